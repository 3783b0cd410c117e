#!/bin/sh
# vtio-rpmsg-echo-dev and -drv against each other: --help, bad arguments, a
# peer that is not there, two drivers in a row, a device killed under a
# running driver, SIGINT / SIGTERM. Every process runs under timeout (SIGKILL
# 5 s after an ignored SIGTERM), and a watchdog ends the whole test at 100 s.
# Usage: programs_test.sh DEV DRV SCRATCH_DIR
set -u
DEV=$1
DRV=$2
DIR=$3/programs-test
rm -rf "$DIR" && mkdir -p "$DIR"
SOCK=$DIR/echo.sock
DEVPID=
# Each step says what it is, so a step that runs into ctest's timeout is named.
step() { echo "step: $*"; echo "$*" >"$DIR/step"; }
dump() { for f in "$DIR"/*.out "$DIR"/err; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done; }
# Programs that ignore their timeout's SIGTERM get SIGKILL 5 s later (-k).
T="timeout -k 5"
# A signal meant for a program goes to the program, not to its timeout: on a
# SIGTERM or SIGINT timeout also sends SIGCONT to the program's group, and a
# SIGCONT that lands while LeakSanitizer's exit-time check is ptrace-attaching
# (ASan builds) cancels the attach's SIGSTOP, so the check waits forever and
# the program is SIGKILLed 5 s later (seen ~1 in 15 runs on a loaded machine).
sig_prog() {
	kid=$(pgrep -P "$2" | head -n 1)
	[ -n "$kid" ] || fail "no program under timeout pid $2 to send SIG$1 to"
	kill -"$1" "$kid"
}
# Watchdog: the steps' own timeouts can add up past ctest's 120 s; this one
# fails the test at 100 s, names the step and shows the programs' output.
(
	sleep "${VTIO_TEST_WATCHDOG_S:-100}" >/dev/null 2>&1
	echo "FAIL: watchdog: still running after ${VTIO_TEST_WATCHDOG_S:-100} s, in step: $(cat "$DIR/step" 2>/dev/null)"
	dump
	self=$(cat "$DIR/watchdog.pid")
	kids=
	for p in $(pgrep -P $$); do
		[ "$p" = "$self" ] || kids="$kids $p $(pgrep -P "$p")"
	done
	kill -KILL $$ $kids 2>/dev/null
) &
WATCHDOG=$!
echo "$WATCHDOG" >"$DIR/watchdog.pid"
# The watchdog's sleep holds ctest's output pipe: it goes too.
stop_watchdog() { pkill -P "$WATCHDOG" 2>/dev/null; kill "$WATCHDOG" 2>/dev/null; }
fail() {
	echo "FAIL: $*"
	dump
	stop_watchdog
	[ -n "$DEVPID" ] && { pkill -KILL -P "$DEVPID"; kill -KILL "$DEVPID"; } 2>/dev/null
	exit 1
}

"$DEV" --help | grep -q "usage: vtio-rpmsg-echo-dev" || fail "dev --help"
"$DRV" --help | grep -q "usage: vtio-rpmsg-echo-drv" || fail "drv --help"
"$DEV" --bogus >/dev/null 2>"$DIR/err"; [ $? -eq 2 ] && grep -q "bogus" "$DIR/err" || fail "dev bad argument"
"$DEV" 2>"$DIR/err" >/dev/null; [ $? -eq 2 ] && grep -q "socket PATH is required" "$DIR/err" || fail "dev no socket"
"$DRV" --socket "$SOCK" --count abc 2>"$DIR/err"; [ $? -eq 2 ] && grep -q "count" "$DIR/err" || fail "drv bad count"
"$DRV" --socket "$SOCK" --timeout 0 2>"$DIR/err"; [ $? -eq 2 ] || fail "drv bad timeout"

step "driver without a device"
# Nobody there: a clear error, exit 1, within the timeout.
$T 20 "$DRV" --socket "$SOCK" --timeout 1 2>"$DIR/err"
[ $? -eq 1 ] && grep -q "no socket there" "$DIR/err" || fail "drv without a device"

step "device up; first driver (split, 300)"
$T 90 "$DEV" --socket "$SOCK" --idle-timeout 60 >"$DIR/dev.out" 2>&1 &
DEVPID=$!
$T 30 "$DRV" --socket "$SOCK" --count 300 >"$DIR/drv1.out" 2>&1 || fail "first driver"
grep -q "bound 'rpmsg-echo' at 0x400 (split ring); 300/300 echoes matched" "$DIR/drv1.out" || fail "first driver output"
# The device reset itself when the first driver left: a second one works,
# this time over the packed ring.
step "second driver (packed, 50)"
$T 30 "$DRV" --socket "$SOCK" --count 50 --message again --packed >"$DIR/drv2.out" 2>&1 || fail "second driver"
grep -q "(packed ring); 50/50 echoes matched" "$DIR/drv2.out" || fail "second driver output"

step "second device refused"
# A second device on the same socket is refused.
$T 10 "$DEV" --socket "$SOCK" 2>"$DIR/err" >/dev/null; [ $? -eq 1 ] && grep -q "another program is listening" "$DIR/err" || fail "second device"
step "SIGINT to a running driver"
# SIGINT stops a running driver cleanly (exit 0), the device survives.
$T 30 "$DRV" --socket "$SOCK" --count 10000000 >"$DIR/drv3.out" 2>&1 &
P=$!
sleep 1
sig_prog INT $P
wait $P || fail "driver exit after SIGINT"
grep -q "stopped by signal" "$DIR/drv3.out" || fail "driver SIGINT output"
step "SIGTERM to the device"
# SIGTERM stops the device cleanly and removes its socket.
sig_prog TERM "$DEVPID"
wait "$DEVPID" || fail "device exit after SIGTERM"
grep -q "stopped by signal" "$DIR/dev.out" || fail "device SIGTERM output"
[ ! -e "$SOCK" ] || fail "socket left behind"

step "device killed under a running driver"
# The device dies (SIGKILL from timeout after 2 s) under a running driver:
# the driver notices and says so.
timeout -s KILL 2 "$DEV" --socket "$SOCK" >"$DIR/dev2.out" 2>&1 &
DEVPID=$!
$T 30 "$DRV" --socket "$SOCK" --count 10000000 >"$DIR/drv4.out" 2>&1 &
P=$!
wait "$DEVPID" 2>/dev/null
DEVPID=
wait $P; rc=$?
[ $rc -eq 1 ] || fail "driver exit $rc after the device died"
grep -q "the device went away" "$DIR/drv4.out" || fail "driver peer-gone output"
stop_watchdog
echo PASS
