#!/usr/bin/env bash
# Install the Debian packages a build needs, or say exactly what to install.
# Usage: scripts/deps.sh [base|cross]   (base: build, tests, docs; cross: + cross compilers, qemu-user)
set -euo pipefail
set_name=${1:-base}
pkgs=(build-essential cmake clang libclang-rt-14-dev llvm libcmocka-dev linux-libc-dev pkg-config doxygen)
if [ "$set_name" = cross ]; then
  # shellcheck source=scripts/cross-packages.txt
  mapfile -t extra < <(grep -v '^#' "$(dirname "$0")/cross-packages.txt" 2>/dev/null | grep -v '^$' || true)
  pkgs+=("${extra[@]}")
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # A mirror out of sync for one index (seen for foreign architectures) must
  # not stop the install: warn, then let apt-get install say what is missing.
  apt-get update -qq || echo "deps: warning: apt-get update reported errors; trying the install anyway" >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: missing Debian packages. Run as root:" >&2
  echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
