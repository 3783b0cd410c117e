#!/usr/bin/env bash
# Set up, build and run the demo: a driver and a device over loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh base
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target vtio_demo
./build/examples/transport/vtio_demo
