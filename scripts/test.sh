#!/usr/bin/env bash
# Set up, build and run the whole unit suite (unit tests, fuzz corpus replays).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh base
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVTIO_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
