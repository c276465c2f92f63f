#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing (curl now; the
# browser tests add chromium). Needs root and apt-get; elsewhere it says what is missing.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing ${need[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
	echo "deps: please install: ${need[*]}" >&2
	exit 1
fi
