#!/usr/bin/env bash
# Set up, build and run the whole unit suite (unit tests, fuzz corpus replays).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh base
# The interop tests' peers (QEMU, DPDK, a Linux kernel for the guest): each
# test installs what it needs itself and skips, naming the package, only
# when it cannot; installing the list here first keeps apt-get out of the
# tests' timeouts. A package that cannot be installed is reported here and
# by the tests that need it.
grep -v '^#' scripts/interop-packages.txt | xargs scripts/interop-deps.sh || true
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVTIO_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
