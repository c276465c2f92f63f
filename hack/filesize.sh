#!/usr/bin/env bash
# Fails when a file tracked by git is over 5 MB: binaries and data dumps do not
# belong in the repository (build them, or fetch them in the target that needs them).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
limit=$((5 * 1000 * 1000))
status=0
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue
	size=$(stat -c %s "$f")
	if [ "$size" -gt "$limit" ]; then
		echo "filesize: $f is $size bytes; files over $limit bytes may not be committed" >&2
		status=1
	fi
done < <(git ls-files -z)
exit $status
