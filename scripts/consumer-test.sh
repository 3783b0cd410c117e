#!/usr/bin/env bash
# Build and install the library into a prefix, then build a tiny outside
# project (tests/consumer) against it three ways and run it:
#   1. find_package(vtio) against the installed CMake package;
#   2. pkg-config (vtio.pc) with a plain compiler command, static and shared;
#   3. add_subdirectory() of the source tree;
# and 4. the bare-metal example from sources.mk with plain make.
# Usage: scripts/consumer-test.sh [work dir (default build-consumer)]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${1:-$root/build-consumer}
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
jobs=${JOBS:-$(nproc)}
cc=${CC:-cc}

echo "consumer-test: build + install into $prefix"
cmake -S . -B "$work/lib" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DVTIO_BUILD_TESTS=OFF -DVTIO_BUILD_BENCH=OFF -DVTIO_BUILD_EXAMPLES=OFF -DVTIO_BUILD_FUZZ=OFF \
  -DVTIO_INSTALL=ON >/dev/null
cmake --build "$work/lib" -j"$jobs" >/dev/null
cmake --install "$work/lib" >/dev/null
libdir=$(find "$prefix" -name vtio.pc -printf '%h\n' | head -n1)
libdir=${libdir%/pkgconfig}

echo "consumer-test: 1. find_package(vtio)"
cmake -S tests/consumer -B "$work/fp" -DVTIO_CONSUME=find_package -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/fp" >/dev/null
"$work/fp/consumer"

echo "consumer-test: 2. pkg-config"
export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists vtio
"$cc" -std=c11 -Wall -Werror tests/consumer/consumer.c $(pkg-config --cflags vtio) \
  -o "$work/pc-shared" $(pkg-config --libs vtio)
LD_LIBRARY_PATH=$libdir "$work/pc-shared"
"$cc" -std=c11 -Wall -Werror tests/consumer/consumer.c $(pkg-config --cflags vtio) \
  -o "$work/pc-static" "$libdir/libvtio.a"
"$work/pc-static"

echo "consumer-test: 3. add_subdirectory"
cmake -S tests/consumer -B "$work/sub" -DVTIO_CONSUME=subdirectory -DVTIO_SOURCE_DIR="$root" >/dev/null
cmake --build "$work/sub" -j"$jobs" >/dev/null
"$work/sub/consumer"

echo "consumer-test: 4. firmware example from sources.mk (plain make)"
if command -v arm-none-eabi-gcc >/dev/null; then
  make -s -j"$jobs" -C examples/baremetal TARGET=cortex-m4 OUT="$work/fw" >/dev/null
  arm-none-eabi-size "$work/fw/vtio_fw.elf"
else
  echo "consumer-test: arm-none-eabi-gcc missing (scripts/cross-setup.sh installs it)" >&2
  exit 1
fi
echo "consumer-test: all consumers built and ran"
