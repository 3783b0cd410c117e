#!/usr/bin/env bash
# vhost-user back end throughput: DPDK testpmd's virtio_user PMD as the
# driver in io forwarding (loop topology: every frame that comes back is sent
# again), 64-byte frames, against
#   (a) our back end, vtio-vhost-net --mode echo, and
#   (b) DPDK's own vhost PMD (a second testpmd, net_vhost0, io forwarding),
# on the same two cores (driver's forwarding lcore on CPU 0, back end on
# CPU 1), split and packed rings, in the same run. Rounds are interleaved
# (each round measures every layout and back end, the back end order
# alternating), each measurement is printed, and the median per layout and
# back end is reported with the ratio ours/DPDK (Mpps; higher is better).
#
# Usage: vhost_user_bench.sh [--json] [--rounds N] [--seconds S]
#            [--layouts split,packed] [--inflight BURSTS] [--ours PATH|testpmd]
#   --rounds N     rounds (default 5)
#   --seconds S    measured seconds per point (default 3; 1 s warm-up before)
#   --inflight B   `start tx_first B`: B bursts of 32 frames circulate (default 16)
#   --ours PATH    our back end binary (default: vtio-vhost-net in ./build);
#                  `testpmd` runs DPDK's vhost in both slots (checks the rig:
#                  the ratio should then be about 1.0)
#   --json         one JSON object per measurement and per summary line
#   --smoke        exit 1 if any point could not be measured (ctest smoke run;
#                  any speed is accepted)
# Needs: dpdk-testpmd (Debian dpdk, dpdk-dev), python3, taskset. No hugepages:
# --no-huge, memory is ordinary process memory (the driver's memory is shared
# with the back end through memfd by virtio_user).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
. "$src/tests/interop/vhost_user_lib.sh"

json=0
smoke=0
rounds=5
secs=3
layouts=split,packed
inflight=16
ours=
while [ $# -gt 0 ]; do
  case $1 in
    --json) json=1 ;;
    --smoke) smoke=1 ;;
    --rounds) rounds=${2:?}; shift ;;
    --seconds) secs=${2:?}; shift ;;
    --layouts) layouts=${2:?}; shift ;;
    --inflight) inflight=${2:?}; shift ;;
    --ours) ours=${2:?}; shift ;;
    -h | --help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

VTIO_INTEROP_DIR=${VTIO_INTEROP_DIR:-${TMPDIR:-/tmp}/vtio-bench}
vu_init vhost_user_bench >/dev/null 2>&1
vu_deps dpdk dpdk-dev python3
if [ -z "$ours" ]; then
  VTIO_BINARY_DIR=${VTIO_BINARY_DIR:-$src/build}
  ours=$(vu_prog vtio-vhost-net) || exit 1
fi
[ "$ours" = testpmd ] || [ -x "$ours" ] || { echo "$ours is not executable" >&2; exit 2; }
sock=$VU_DIR/bench.sock
pfx=vtiob$$
out() { # out TEXT JSON
  if [ $json -eq 1 ]; then echo "$2"; else echo "$1"; fi
}

# measure BACKEND LAYOUT: prints Mpps (driver's rx rate over $secs seconds).
measure() {
  trap vu_cleanup EXIT # measure runs in a command substitution: its own trap
  local be=$1 lay=$2 bpid blog=$VU_DIR/be-$1-$2.log dlog=$VU_DIR/drv-$1-$2.log
  rm -f "$sock"
  if [ "$be" = dpdk ] || [ "$ours" = testpmd ]; then
    # shellcheck disable=SC2046
    vu_spawn bpid "$blog" $((secs + 60)) dpdk-testpmd $(vu_testpmd_eal "${pfx}b" 0,1) --main-lcore 0 \
      --vdev "net_vhost0,iface=$sock" -- --total-num-mbufs=16384 --nb-cores=1 --txd=1024 --rxd=1024 \
      --forward-mode=io --port-topology=loop --stats-period 5 2>/dev/null
    vu_wait_file "$sock" 40 "$bpid" 2>/dev/null
  else
    vu_spawn bpid "$blog" $((secs + 60)) taskset -c 1 "$ours" --mode echo --socket "$sock" --once 2>/dev/null
    vu_wait_log "$blog" "listening on" 20 "$bpid" 2>/dev/null
  fi
  local d=,queue_size=1024
  [ "$lay" = packed ] && d=$d,packed_vq=1
  local dpid
  # shellcheck disable=SC2046
  vu_spawn_fifo dpid "$dlog" $((secs + 60)) "$VU_DIR/drv.fifo" stdbuf -oL dpdk-testpmd \
    $(vu_testpmd_eal "${pfx}d" 0,1) --main-lcore 1 --vdev "net_virtio_user0,path=$sock$d" -- -i \
    --total-num-mbufs=16384 --nb-cores=1 --txd=1024 --rxd=1024 --port-topology=loop 2>/dev/null
  local i
  for ((i = 0; i < 400; i++)); do
    grep -q '^testpmd> ' "$dlog" && break
    sleep 0.1
  done
  printf 'set fwd io\nstart tx_first %d\n' "$inflight" >&8
  sleep 1
  printf 'show port stats 0\n' >&8
  sleep "$secs"
  printf 'show port stats 0\nstop\nquit\n' >&8
  exec 8>&-
  vu_wait_exit "$dpid" 30 2>/dev/null
  vu_stop "$bpid" 2>/dev/null
  "$VU_PY" - "$dlog" <<'EOF'
import re, sys
t = open(sys.argv[1], errors="replace").read()
r = re.findall(r"Rx-pps:\s+(\d+)", t)
print("%.4f" % (int(r[1]) / 1e6) if len(r) >= 2 else "nan")
EOF
}

IFS=, read -r -a lays <<<"$layouts"
declare -A res
for ((r = 1; r <= rounds; r++)); do
  for lay in "${lays[@]}"; do
    if [ $((r % 2)) -eq 1 ]; then order=(ours dpdk); else order=(dpdk ours); fi
    for be in "${order[@]}"; do
      m=$(measure "$be" "$lay")
      res[$be,$lay]="${res[$be,$lay]:-} $m"
      out "round $r $lay $be: $m Mpps" \
        "{\"bench\":\"vhost_user\",\"round\":$r,\"layout\":\"$lay\",\"backend\":\"$be\",\"frame\":64,\"mpps\":$m}"
    done
  done
done
for lay in "${lays[@]}"; do
  "$VU_PY" - "$lay" "${res[ours,$lay]}" "${res[dpdk,$lay]}" "$json" "$rounds" "$secs" "$inflight" <<'EOF'
import json, statistics, sys
lay, ours, dpdk, js = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4] == "1"
ours = [float(x) for x in ours if x != "nan"]
dpdk = [float(x) for x in dpdk if x != "nan"]
mo = statistics.median(ours) if ours else float("nan")
md = statistics.median(dpdk) if dpdk else float("nan")
ratio = mo / md if md == md and md > 0 else float("nan")
# Ratio of each round's pair too: both were measured a few seconds apart.
pairs = [o / d for o, d in zip(ours, dpdk) if d > 0]
mp = statistics.median(pairs) if pairs else float("nan")
if js:
    print(json.dumps({"bench": "vhost_user", "summary": True, "layout": lay, "frame": 64,
                      "rounds": int(sys.argv[5]), "seconds": int(sys.argv[6]),
                      "inflight_bursts": int(sys.argv[7]),
                      "ours_mpps_median": round(mo, 4), "dpdk_mpps_median": round(md, 4),
                      "ratio_of_medians": round(ratio, 3), "median_of_round_ratios": round(mp, 3),
                      "ours": ours, "dpdk": dpdk}))
else:
    print("%-6s ours %.3f Mpps  dpdk vhost %.3f Mpps  ratio ours/dpdk %.2f (median of round ratios %.2f; %d rounds)"
          % (lay, mo, md, ratio, mp, len(ours)))
EOF
done
if [ $smoke -eq 1 ]; then
  for k in "${!res[@]}"; do
    case " ${res[$k]} " in *" nan "*) echo "FAIL: no measurement for $k" >&2; exit 1 ;; esac
  done
  echo "PASS: vhost_user_bench smoke (every point measured)"
fi
