#!/usr/bin/env bash
# Make sure the Debian packages an interop test needs are installed.
# Usage: scripts/interop-deps.sh PKG...
# Exit 0: all installed (installing the missing ones as root).
# Exit 77 (ctest's skip code, see vtio_add_interop_test): a package cannot be
# installed here; the message names it.
set -u
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: Debian package(s) ${missing[*]} not installed and not root; run: apt-get install -y ${missing[*]}" >&2
  exit 77
fi
export DEBIAN_FRONTEND=noninteractive
# Tests run in parallel: one apt-get at a time.
exec 9>/tmp/vtio-interop-apt.lock
flock 9
try_install() {
  timeout 900 apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
}
if ! try_install "${missing[@]}"; then
  timeout 300 apt-get update -qq >/dev/null 2>&1 || true
  if ! try_install "${missing[@]}"; then
    for p in "${missing[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        echo "SKIP: Debian package $p cannot be installed (apt-get install $p failed)" >&2
    done
    exit 77
  fi
fi
exit 0
