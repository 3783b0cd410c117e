#!/usr/bin/env bash
# Set up, build and run the demo: a virtio-blk driver and device as two
# processes over shared memory (seed 002). The driver's buffers stay in its
# private memory; a bounce pool in the shared window carries every payload;
# config, status and features go as messages over a UNIX socket (the
# message-queue transport); notifications are eventfd doorbells. Runs the
# split and the packed ring and prints throughput and the data check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh base
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target vtio_blk_dev vtio_blk_drv
dir=build/demo
mkdir -p "$dir"
sock=$dir/blk.sock img=$dir/disk.img
truncate -s 64M "$img"
timeout -k 5 60 ./build/examples/msgq/vtio-blk-dev --socket "$sock" --file "$img" --quiet &
dev=$!
trap 'kill "$(pgrep -P $dev)" 2>/dev/null; wait $dev 2>/dev/null || true' EXIT
status=0
for ring in "" --packed; do
  timeout -k 5 60 ./build/examples/msgq/vtio-blk-drv --socket "$sock" --size 32M --depth 16 $ring || status=1
done
exit $status
