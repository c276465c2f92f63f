#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing (curl, and chromium
# with a Chinese font for the console's browser tests). Needs root and apt-get; elsewhere it says what is missing.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
command -v chromium >/dev/null || need+=(chromium)
# A Chinese font, so that the zh-CN console renders (and its screenshots read) as users see it.
[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || need+=(fonts-wqy-microhei)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "deps: installing ${need[*]}" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
	echo "deps: please install: ${need[*]}" >&2
	exit 1
fi
