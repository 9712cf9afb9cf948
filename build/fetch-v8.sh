#!/usr/bin/env bash
# Puts Debian's V8 (inside libnode) into a private, git-ignored prefix: .deps/v8.
# `apt-get install libnode108` would remove the machine's own Node (the packages conflict),
# so the .debs are downloaded and unpacked with dpkg -x instead; the system is untouched.
set -euo pipefail

prefix="${1:-$(cd "$(dirname "$0")/.." && pwd)/.deps/v8}"
stamp="$prefix/.complete"
[ -f "$stamp" ] && exit 0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# apt-get download runs as the _apt user when root; give it a place it may write.
chmod 777 "$work"
if ! apt-get download libnode108 libnode-dev libc-ares2 >/dev/null 2>&1; then
  apt-get update -qq
  apt-get download libnode108 libnode-dev libc-ares2 >/dev/null
fi
rm -rf "$prefix"
mkdir -p "$prefix"
for deb in ./*.deb; do dpkg -x "$deb" "$prefix"; done
test -f "$prefix/usr/include/node/v8.h"
test -f "$prefix/usr/lib/x86_64-linux-gnu/libnode.so.108"
touch "$stamp"
echo "clockwork: V8 (libnode) unpacked into $prefix"
