#!/usr/bin/env bash
# vtio-blk-dev and vtio-blk-drv as two processes over the message-queue
# transport: split and packed runs with the data check, argument and
# missing-peer errors, clean exit on SIGTERM, and reliability: the device
# killed (SIGKILL) mid-stream several times while a --reconnect driver runs
# (every in-flight request failed back once and redone, no double
# completion, every byte checked), and drivers killed mid-stream (the
# device drops the session and serves the next driver).
# Usage: test_blk_programs.sh DEV DRV SCRATCHDIR
set -u
DEV=$1 DRV=$2 DIR=$3
rm -rf "$DIR" && mkdir -p "$DIR"
SOCK=$DIR/blk.sock IMG=$DIR/disk.img LOG=$DIR/log
truncate -s 32M "$IMG"
fail() { echo "FAIL: $*"; [ -f "$LOG" ] && tail -20 "$LOG"; cleanup; exit 1; }
pids=()
# Programs run under timeout; signals go to the program itself (the child of
# timeout), by pid.
child() { local c; for _ in $(seq 100); do c=$(pgrep -P "$1") && { echo "$c"; return; }; sleep 0.02; done; }
killprog() { local sig=$1 p=$2 c; c=$(child "$p"); [ -n "$c" ] && kill "-$sig" "$c" 2>/dev/null; }
cleanup() { for p in "${pids[@]}"; do killprog 9 "$p"; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=(); }
trap cleanup EXIT
start_dev() {
  timeout -k 5 150 "$DEV" --socket "$SOCK" --file "$IMG" --quiet >>"$DIR/dev.log" 2>&1 &
  DEVPID=$!; pids+=("$DEVPID")
  for _ in $(seq 100); do [ -S "$SOCK" ] && return 0; sleep 0.05; done
  fail "device did not start"
}

# --- usage and errors -----------------------------------------------------------
"$DEV" --help | grep -q -- "--socket PATH --file IMG" || fail "dev --help"
"$DRV" --help | grep -q -- "--packed" || fail "drv --help"
"$DEV" --socket "$SOCK" >"$LOG" 2>&1; [ $? -eq 2 ] && grep -q "required" "$LOG" || fail "dev without --file"
"$DEV" --socket "$SOCK" --file "$DIR/nope.img" >"$LOG" 2>&1; [ $? -eq 1 ] && grep -q "cannot open image" "$LOG" || fail "dev missing file"
"$DRV" --bogus >"$LOG" 2>&1; [ $? -eq 2 ] && grep -q "unknown" "$LOG" || fail "drv bad argument"
"$DRV" --socket "$SOCK" --block 1000 >"$LOG" 2>&1; [ $? -eq 2 ] || fail "drv bad block size"
"$DRV" --socket "$DIR/none.sock" --connect-timeout 100 >"$LOG" 2>&1; [ $? -eq 3 ] && grep -q "no device" "$LOG" || fail "drv no peer"
echo "ok: usage and error messages"

# --- split and packed -----------------------------------------------------------
start_dev
for mode in "" --packed; do
  timeout -k 5 60 "$DRV" --socket "$SOCK" --size 8M --depth 8 $mode >"$LOG" 2>&1 || fail "drv $mode"
  grep -q "data check: OK" "$LOG" || fail "data check $mode"
  grep "MB/s" "$LOG"
done
# Block size at the device's size_max, a different pattern per pass.
timeout -k 5 60 "$DRV" --socket "$SOCK" --size 2M --block 128k --passes 2 --packed >"$LOG" 2>&1 || fail "drv 128k"
echo "ok: split and packed, data checked"

# --- driver killed mid-stream, repeatedly: the device serves the next one -------------
for i in 1 2 3; do
  timeout -k 5 60 "$DRV" --socket "$SOCK" --size 32M --passes 50 --quiet >/dev/null 2>&1 &
  p=$!; sleep 0.5; killprog 9 $p; wait $p 2>/dev/null
  timeout -k 5 60 "$DRV" --socket "$SOCK" --size 1M --quiet >"$LOG" 2>&1 || fail "driver after killed driver $i"
  grep -q "data check: OK" "$LOG" || fail "data after killed driver $i"
done
[ -n "$(child "$DEVPID")" ] || fail "device died with its driver"
echo "ok: 3 drivers killed mid-stream, the device served the next driver each time"

# --- device killed mid-stream, repeatedly: the driver fails back and recovers ------------
# Enough passes (1.6 GB) that the driver is still running at the third kill
# even on a quiet machine (about 1 GB/s here); under load it takes longer.
timeout -k 5 120 "$DRV" --socket "$SOCK" --size 4M --passes 400 --reconnect --connect-timeout 5000 >"$LOG" 2>&1 &
DRVPID=$!; pids+=("$DRVPID")
for i in 1 2 3; do
  sleep 0.4
  killprog 9 "$DEVPID"; wait "$DEVPID" 2>/dev/null
  sleep 0.1
  start_dev
done
wait "$DRVPID"; rc=$?
[ $rc -eq 0 ] || fail "reconnecting driver exited $rc"
grep -q "data check: OK" "$LOG" || fail "data after device kills"
grep -q "double completions 0" "$LOG" || fail "double completion"
n=$(sed -n 's/.*reconnects \([0-9]*\).*/\1/p' "$LOG")
[ "${n:-0}" -ge 1 ] || fail "no reconnect seen"
f=$(sed -n 's/.*failed back \([0-9]*\).*/\1/p' "$LOG")
[ "${f:-0}" -ge 1 ] || fail "no request was in flight at any of the kills"
grep "reconnects" "$LOG"
echo "ok: device killed 3 times mid-stream, $n reconnects, no double completion, data checked"

# --- clean exit on SIGTERM --------------------------------------------------------
killprog TERM "$DEVPID"; wait "$DEVPID"; rc=$?
[ $rc -eq 0 ] || fail "device exit on SIGTERM: $rc"
[ -e "$SOCK" ] && fail "socket left behind"
echo "ok: SIGTERM, clean exit"
pids=()
exit 0
