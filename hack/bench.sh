#!/usr/bin/env bash
# Runs every Go benchmark and writes docs/benchmarks.md. Benchmarks that compare
# kubegate with a baseline name their sub-benchmarks "baseline" and "kubegate" (or
# another name); the report prints each one's ratio to the baseline measured in the
# same run, because these machines are too noisy to compare across runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
count=${BENCH_COUNT:-3}
go test -run '^$' -bench "${BENCH:-.}" -benchmem -count "$count" -timeout 120m ./... | tee "$out"
report=$(mktemp)
trap 'rm -f "$out" "$report"' EXIT
# A run of some benchmarks only (BENCH=Scale make bench) keeps the sections of
# the packages it did not measure, marked with the date they were measured.
go run ./hack/benchreport -count "$count" -keep docs/benchmarks.md < "$out" > "$report"
# Keep the sections written by hand (how the figures compare with the targets)
# and by `make load`.
for section in targets load; do
	if [ -f docs/benchmarks.md ] && grep -q "<!-- $section:begin -->" docs/benchmarks.md; then
		{ echo; sed -n "/<!-- $section:begin -->/,/<!-- $section:end -->/p" docs/benchmarks.md; } >> "$report"
	fi
done
mv "$report" docs/benchmarks.md
echo "wrote docs/benchmarks.md"
