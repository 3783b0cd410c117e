# shellcheck shell=bash disable=SC2034 # VU_RC, VU_TESTPMD_APP: used by the scripts that source this
# Shared pieces of the vhost-user interop tests (sourced, not run).
#
# Every peer process runs under `timeout` in its own process group, is
# recorded, and is killed and reaped by the EXIT trap on every path (pass,
# fail, skip, signal). Scratch files (sockets, logs, images) live in one
# directory per test under $VTIO_INTEROP_DIR, so two tests can run at once.
#
# Conventions: vu_fail prints "FAIL: ..." and exits 1; vu_skip exits 77
# (ctest's skip code, see vtio_add_interop_test) and is used only when a
# Debian package cannot be installed.

set -u

VU_SRC=${VTIO_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VU_PIDS=()
# The system interpreter (python3 package): a python3 found first on PATH
# may be a version-manager shim that costs a second per call.
VU_PY=/usr/bin/python3
[ -x "$VU_PY" ] || VU_PY=python3
VU_DIR=

vu_log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
vu_fail() {
  echo "FAIL: $*" >&2
  exit 1
}
vu_skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# Kill every recorded process group, then reap it. Idempotent.
vu_cleanup() {
  local p
  for p in "${VU_PIDS[@]}"; do
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${VU_PIDS[@]}"; do
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$p" 2>/dev/null || break
      sleep 0.2
    done
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  VU_PIDS=()
}

# vu_init NAME: scratch directory $VU_DIR (emptied), traps installed.
vu_init() {
  local name=$1
  VU_DIR=${VTIO_INTEROP_DIR:-${TMPDIR:-/tmp}/vtio-interop}/$name
  rm -rf "$VU_DIR"
  mkdir -p "$VU_DIR" || vu_fail "cannot create scratch directory $VU_DIR"
  trap vu_cleanup EXIT
  trap 'vu_cleanup; exit 130' INT
  trap 'vu_cleanup; exit 143' TERM
  vu_log "scratch directory $VU_DIR"
}

# vu_deps PKG...: install the Debian packages or skip naming them.
vu_deps() {
  "$VU_SRC/scripts/interop-deps.sh" "$@"
  local rc=$?
  [ $rc -eq 0 ] && return 0
  [ $rc -eq 77 ] && exit 77
  vu_fail "scripts/interop-deps.sh $* failed (exit $rc)"
}

# vu_spawn VAR LOG SECONDS CMD...: start CMD under `timeout SECONDS` in its own
# process group with stdout+stderr to LOG; its pid goes into variable VAR.
vu_spawn() {
  local __var=$1 log=$2 secs=$3
  shift 3
  setsid timeout --kill-after=5 "$secs" "$@" >"$log" 2>&1 </dev/null &
  local pid=$!
  VU_PIDS+=("$pid")
  printf -v "$__var" '%s' "$pid"
  vu_log "started pid $pid: $* (log $log)"
}

# vu_spawn_fifo VAR LOG SECONDS FIFO CMD...: as vu_spawn, with stdin from a
# FIFO the test writes commands into (testpmd interactive mode). The FIFO is
# held open on fd 8 by this shell so the peer does not see EOF early.
vu_spawn_fifo() {
  local __var=$1 log=$2 secs=$3 fifo=$4
  shift 4
  rm -f "$fifo"
  mkfifo "$fifo" || vu_fail "mkfifo $fifo"
  setsid timeout --kill-after=5 "$secs" "$@" >"$log" 2>&1 <"$fifo" &
  local pid=$!
  exec 8>"$fifo"
  VU_PIDS+=("$pid")
  printf -v "$__var" '%s' "$pid"
  vu_log "started pid $pid: $* (stdin $fifo, log $log)"
}

# vu_alive PID: 0 while the process runs.
vu_alive() { kill -0 "$1" 2>/dev/null; }

# vu_child_of PID: the first child of PID (the program a `timeout` wrapper
# runs), from /proc/*/stat; nothing when there is none.
vu_child_of() {
  local f line fields
  for f in /proc/[0-9]*/stat; do
    read -r line <"$f" 2>/dev/null || continue
    read -r -a fields <<<"${line##*) }" # state ppid ...
    if [ "${fields[1]:-}" = "$1" ]; then
      f=${f#/proc/}
      echo "${f%/stat}"
      return 0
    fi
  done
}

# vu_wait_exit PID SECONDS: wait for PID to exit; its exit code goes to
# $VU_RC (124 from timeout means it hung). Fails if it outlives SECONDS.
vu_wait_exit() {
  local pid=$1 secs=$2 i
  for ((i = 0; i < secs * 10; i++)); do
    vu_alive "$pid" || break
    sleep 0.1
  done
  vu_alive "$pid" && vu_fail "pid $pid still running after ${secs}s"
  wait "$pid"
  VU_RC=$?
  # Anything left in its process group (a child whose timeout wrapper was
  # killed) goes with it.
  kill -KILL -- "-$pid" 2>/dev/null || true
  local p keep=()
  for p in "${VU_PIDS[@]}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  VU_PIDS=("${keep[@]}")
  return 0
}

# vu_stop PID: SIGTERM its group, wait up to 10 s, reap (rc in $VU_RC).
vu_stop() {
  local pid=$1
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  vu_wait_exit "$pid" 10
}

# vu_wait_file PATH SECONDS [PID]: wait until PATH exists (a listening socket),
# failing early if PID died.
vu_wait_file() {
  local path=$1 secs=$2 pid=${3:-} i
  for ((i = 0; i < secs * 10; i++)); do
    [ -e "$path" ] && return 0
    if [ -n "$pid" ] && ! vu_alive "$pid"; then
      vu_fail "process $pid exited before creating $path"
    fi
    sleep 0.1
  done
  vu_fail "$path did not appear within ${secs}s"
}

# vu_wait_log LOG REGEX SECONDS [PID]: wait until LOG has a line matching REGEX.
vu_wait_log() {
  local log=$1 re=$2 secs=$3 pid=${4:-} i
  for ((i = 0; i < secs * 10; i++)); do
    grep -Eq -- "$re" "$log" 2>/dev/null && return 0
    if [ -n "$pid" ] && ! vu_alive "$pid"; then
      grep -Eq -- "$re" "$log" 2>/dev/null && return 0
      vu_log "--- tail of $log"
      tail -n 30 "$log" >&2
      vu_fail "process $pid exited before '$re' appeared in $log"
    fi
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  vu_fail "'$re' did not appear in $log within ${secs}s"
}

# vu_show LOG [N]: last N lines of a log, for the ctest output.
vu_show() {
  vu_log "--- tail of $1"
  tail -n "${2:-25}" "$1" >&2
}

# vu_prog NAME: path of one of our programs. $VTIO_PROG_<NAME> (dashes as
# underscores, upper case; set by tests/interop/vhost_user.cmake) wins; else
# the build tree is searched.
vu_prog() {
  local name=$1 var
  var=VTIO_PROG_$(echo "$name" | tr 'a-z-' 'A-Z_')
  if [ -n "${!var:-}" ]; then
    [ -x "${!var}" ] || vu_fail "$var=${!var} is not an executable"
    echo "${!var}"
    return 0
  fi
  local f
  f=$(find "${VTIO_BINARY_DIR:-$VU_SRC/build}" -type f -name "$name" -perm -u+x 2>/dev/null | head -n 1)
  [ -n "$f" ] || vu_fail "$name is not built (looked under ${VTIO_BINARY_DIR:-$VU_SRC/build})"
  echo "$f"
}

# vu_json_get FILE KEY.PATH: a value from the last JSON object in FILE (one
# object per line or a whole document); prints nothing when absent.
vu_json_get() {
  "$VU_PY" - "$1" "$2" <<'EOF'
import json, sys
path, key = sys.argv[1], sys.argv[2]
text = open(path, errors="replace").read()
obj = None
try:
    obj = json.loads(text)
except ValueError:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                break
            except ValueError:
                pass
if obj is None:
    sys.exit(0)
for k in key.split("."):
    if isinstance(obj, dict) and k in obj:
        obj = obj[k]
    elif isinstance(obj, list) and k.isdigit() and int(k) < len(obj):
        obj = obj[int(k)]
    else:
        sys.exit(0)
print(json.dumps(obj) if isinstance(obj, (dict, list, bool)) else obj)
EOF
}

# ---- DPDK testpmd --------------------------------------------------------

# Common EAL arguments: no hugepages, no PCI, no shared config, so several
# testpmd instances (and several tests) coexist; PREFIX keeps their runtime
# files apart. The mbuf pool is sized for 256 MB of ordinary memory.
vu_testpmd_eal() {
  local prefix=$1 lcores=$2
  echo "--no-huge -m 256 --no-pci --no-shconf --file-prefix=$prefix -l $lcores --log-level=lib.eal:warning"
}
VU_TESTPMD_APP="--total-num-mbufs=8192 --nb-cores=1 --txd=256 --rxd=256"

# vu_testpmd_port_stats LOG: the last "show port stats" block of a testpmd log
# as "rx_packets rx_bytes tx_packets tx_bytes rx_errors rx_nombuf".
vu_testpmd_port_stats() {
  "$VU_PY" - "$1" <<'EOF'
import re, sys
t = open(sys.argv[1], errors="replace").read()
blocks = t.split("NIC statistics for port")
if len(blocks) < 2:
    sys.exit(1)
b = blocks[-1]
def g(name):
    m = re.search(name + r":\s*(\d+)", b)
    return int(m.group(1)) if m else -1
print(g("RX-packets"), g("RX-bytes"), g("TX-packets"), g("TX-bytes"), g("RX-errors"), g("RX-nombuf"))
EOF
}

# vu_testpmd_features LOG: "virtio=0x... protocol=0x..." as logged by DPDK's
# vhost library (the negotiated values, when testpmd is the device).
vu_testpmd_features() {
  local v p
  v=$(grep -Eo 'negotiated Virtio features: 0x[0-9a-f]+' "$1" | tail -n 1 | awk '{print $4}')
  p=$(grep -Eo 'negotiated Vhost-user protocol features: 0x[0-9a-f]+' "$1" | tail -n 1 | awk '{print $5}')
  echo "virtio=${v:-?} protocol=${p:-?}"
}

# vu_features_decode TYPE HEX: virtio feature bit names (TYPE net|blk), for
# the logs.
vu_features_decode() {
  "$VU_PY" - "$1" "$2" <<'EOF'
import sys
common = {24: "NOTIFY_ON_EMPTY", 27: "ANY_LAYOUT", 28: "RING_INDIRECT_DESC",
          29: "RING_EVENT_IDX", 30: "PROTOCOL_FEATURES", 32: "VERSION_1",
          33: "ACCESS_PLATFORM", 34: "RING_PACKED", 35: "IN_ORDER",
          36: "ORDER_PLATFORM", 37: "SR_IOV", 38: "NOTIFICATION_DATA",
          39: "NOTIF_CONFIG_DATA", 40: "RING_RESET"}
dev = {
    "net": {0: "CSUM", 1: "GUEST_CSUM", 2: "CTRL_GUEST_OFFLOADS", 3: "MTU",
            5: "MAC", 6: "GSO", 7: "GUEST_TSO4", 8: "GUEST_TSO6", 9: "GUEST_ECN",
            10: "GUEST_UFO", 11: "HOST_TSO4", 12: "HOST_TSO6", 13: "HOST_ECN",
            14: "HOST_UFO", 15: "MRG_RXBUF", 16: "STATUS", 17: "CTRL_VQ",
            18: "CTRL_RX", 19: "CTRL_VLAN", 20: "CTRL_RX_EXTRA",
            21: "GUEST_ANNOUNCE", 22: "MQ", 23: "CTRL_MAC_ADDR", 63: "SPEED_DUPLEX"},
    "blk": {0: "BARRIER", 1: "SIZE_MAX", 2: "SEG_MAX", 4: "GEOMETRY", 5: "RO",
            6: "BLK_SIZE", 7: "SCSI", 9: "FLUSH", 10: "TOPOLOGY",
            11: "CONFIG_WCE", 12: "MQ", 13: "DISCARD", 14: "WRITE_ZEROES",
            15: "LIFETIME", 16: "SECURE_ERASE"},
}.get(sys.argv[1], {})
try:
    v = int(sys.argv[2], 16)
except ValueError:
    print("?")
    sys.exit(0)
print(" ".join(dev.get(b, common.get(b, "bit%d" % b)) for b in range(64) if v >> b & 1))
EOF
}

# vu_protocol_decode HEX: vhost-user protocol feature names (vhost-user.rst,
# "Protocol features").
vu_protocol_decode() {
  "$VU_PY" - "$1" <<'EOF'
import sys
names = ["MQ", "LOG_SHMFD", "RARP", "REPLY_ACK", "NET_MTU", "BACKEND_REQ",
         "CROSS_ENDIAN", "CRYPTO_SESSION", "PAGEFAULT", "CONFIG",
         "BACKEND_SEND_FD", "HOST_NOTIFIER", "INFLIGHT_SHMFD", "RESET_DEVICE",
         "INBAND_NOTIFICATIONS", "CONFIGURE_MEM_SLOTS", "STATUS", "XEN_MMAP",
         "SHARED_OBJECT", "DEVICE_STATE"]
try:
    v = int(sys.argv[1], 16)
except ValueError:
    print("?")
    sys.exit(0)
print(" ".join(names[b] if b < len(names) else "bit%d" % b for b in range(64) if v >> b & 1))
EOF
}
