#!/usr/bin/env bash
# Install what the cross suites, firmware builds and static analysis need,
# from Debian packages only, and build CMocka for powerpc.
#
#  - s390x and i386 are Debian 12 release architectures: CMocka comes from
#    multiarch libcmocka-dev:<arch> (dpkg --add-architecture).
#  - powerpc (32-bit) is a debian-ports architecture, not reachable here:
#    CMocka is built with powerpc-linux-gnu-gcc from Debian's own cmocka
#    source package (`apt-get source cmocka`, needs a deb-src entry, added
#    below) into build-cross-deps/powerpc-linux-gnu/, where
#    cmake/toolchains/linux-cross-common.cmake finds it.
# Idempotent; as root it installs, otherwise it says what is missing.
# Usage: scripts/cross-setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" -eq 0 ]; then
  need_update=0
  for a in s390x i386; do
    if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
      dpkg --add-architecture "$a"
      need_update=1
    fi
  done
  src_list=/etc/apt/sources.list.d/vtio-debian-src.sources
  if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
    cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    need_update=1
  fi
  if [ $need_update = 1 ]; then
    # A mirror mid-sync can fail one index; the install below still fails
    # loudly if something we need is really missing.
    apt-get update -qq || echo "cross-setup: apt-get update reported errors (continuing)" >&2
  fi
  # Install here with a tolerant update (deps.sh stops on any index error,
  # which a mirror mid-sync of one foreign architecture can cause).
  mapfile -t want < <(grep -v '^#' scripts/cross-packages.txt | grep -v '^$')
  missing=()
  for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    [ $need_update = 1 ] || apt-get update -qq || echo "cross-setup: apt-get update reported errors (continuing)" >&2
    echo "cross-setup: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi
scripts/deps.sh cross

# CMocka for powerpc from Debian's source package (patches applied by dpkg-source).
cm_prefix=$root/build-cross-deps/powerpc-linux-gnu
if [ ! -f "$cm_prefix/lib/libcmocka.a" ]; then
  work=$root/build-cross-deps/src
  rm -rf "$work" && mkdir -p "$work"
  (cd "$work" && apt-get source -qq cmocka >/dev/null 2>&1) || {
    echo "cross-setup: 'apt-get source cmocka' failed (needs a deb-src entry for Debian bookworm)" >&2
    exit 1
  }
  cm_src=$(find "$work" -maxdepth 1 -type d -name 'cmocka-*' | head -n1)
  cmake -S "$cm_src" -B "$work/build-ppc" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/powerpc-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DWITH_STATIC_LIB=ON -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF \
    -DCMAKE_INSTALL_PREFIX="$cm_prefix" >/dev/null
  cmake --build "$work/build-ppc" -j"$(nproc)" >/dev/null
  mkdir -p "$cm_prefix/lib" "$cm_prefix/include"
  cp "$cm_src/include/cmocka.h" "$cm_prefix/include/"
  cp "$(find "$work/build-ppc" -name 'libcmocka-static.a' -o -name 'libcmocka.a' | head -n1)" \
    "$cm_prefix/lib/libcmocka.a"
  echo "cross-setup: built CMocka $(basename "$cm_src") for powerpc-linux-gnu in $cm_prefix"
fi
