#!/usr/bin/env bash
# Interop: DPDK 22.11 testpmd against our vhost-user programs.
#
#   vhost_user_dpdk.sh driver split|packed [nomrg] [--backend ours|testpmd]
#       testpmd's virtio_user PMD is the driver (front end), our
#       vtio-vhost-net --mode echo the device. Three phases in one testpmd
#       session (interactive, driven through a FIFO):
#         A. rxonly + `start tx_first 4`: exactly 128 64-byte UDP frames go
#            out and exactly 128 come back, each logged by testpmd's verbose
#            mode as type 0x0800 length 64;
#         B. rxonly + txpkts 1200 + `start tx_first 1`: 32 frames of 1200 B
#            out and back (several descriptors per frame with mrg_rxbuf);
#         C. io forwarding + `start tx_first 2`: the 64 frames circulate
#            (testpmd forwards what the echo returns) for 3 s: thousands each
#            way, none lost (testpmd's tx - rx stays within the 64 in flight).
#       Then testpmd quits; the back end (--once) exits and its JSON counters
#       must agree: in_frames == testpmd TX, out_frames == testpmd RX (+ what
#       was still in flight at the final stop), no drops, no protocol errors.
#       nomrg: mrg_rxbuf=0 (one rx descriptor chain per frame).
#   vhost_user_dpdk.sh device split|packed [--frontend ours]
#       testpmd's vhost PMD (net_vhost0, io forwarding, loop topology: every
#       frame goes back where it came from) is the device, our vtio-vhost-fe
#       --type net the driver: frames of 60, 256 and 1514 bytes (and one run
#       without EVENT_IDX and INDIRECT_DESC) sent and received, content
#       checked byte for byte by the front end; testpmd's port counters equal
#       the sum of what the front ends sent.
#   vhost_user_dpdk.sh driver-reconnect split|packed
#       two testpmd sessions one after the other against one vtio-vhost-net
#       process: the second is served without restarting the back end;
#       connections == 2 and the counters add up.
#   vhost_user_dpdk.sh backend-dies split|packed
#       our front end streams frames to testpmd net_vhost0, which is killed
#       (SIGKILL) mid-run: the front end must notice, fail every in-flight
#       buffer back exactly once, exit 1 and say so in its JSON.
#
# --backend testpmd / --frontend testpmd swap our program for a second
# testpmd (vhost or virtio_user), to check the harness itself.
# Negotiated features are logged on lines starting NEGOTIATED.
# shellcheck source=vhost_user_lib.sh disable=SC2154 # pids are set by vu_spawn (printf -v)
. "$(dirname "$0")/vhost_user_lib.sh"

what=${1:?driver|device|driver-reconnect|backend-dies}
layout=${2:?split|packed}
shift 2
variant=
peer=ours
while [ $# -gt 0 ]; do
  case $1 in
    nomrg) variant=nomrg ;;
    --backend | --frontend) peer=${2:?}; shift ;;
    *) vu_fail "unknown argument $1" ;;
  esac
  shift
done
case "$layout" in split | packed) ;; *) vu_fail "layout must be split or packed" ;; esac

name=vhost_user_dpdk_${what//-/_}_${layout}${variant:+_$variant}
[ "$peer" != ours ] && name=${name}_$peer
vu_init "$name"
vu_deps dpdk dpdk-dev python3
command -v dpdk-testpmd >/dev/null || vu_skip "dpdk-testpmd not found after installing dpdk-dev"

sock=$VU_DIR/vu.sock
# Distinct EAL file prefixes per test and process, so tests run in parallel.
pfx=vtio$$

# ---- testpmd as the driver (virtio_user), interactive through a FIFO -----

TP_LOG=
TP_PID=
tp_send() { printf '%s\n' "$@" >&8; }
# tp_wait_count REGEX N SECONDS: until REGEX matches >= N lines of the log.
tp_wait_count() {
  local re=$1 n=$2 secs=$3 i c
  for ((i = 0; i < secs * 10; i++)); do
    c=$(grep -Ec -- "$re" "$TP_LOG")
    [ "$c" -ge "$n" ] && return 0
    vu_alive "$TP_PID" || { vu_show "$TP_LOG" 40; vu_fail "testpmd exited early"; }
    sleep 0.1
  done
  vu_show "$TP_LOG" 40
  vu_fail "testpmd: '$re' seen $c times, expected $n within ${secs}s"
}
# tp_fwd_stats K: "rx tx" of the K-th (1-based) forward-statistics block
# testpmd printed at a `stop`.
tp_fwd_stats() {
  "$VU_PY" - "$TP_LOG" "$1" <<'EOF'
import re, sys
t = open(sys.argv[1], errors="replace").read()
blocks = re.findall(r"Forward statistics for port 0\s+-+\s+RX-packets:\s+(\d+).*?TX-packets:\s+(\d+)", t, re.S)
k = int(sys.argv[2])
print("%s %s" % blocks[k - 1] if len(blocks) >= k else "-1 -1")
EOF
}

# tp_driver_session TAG DEVARGS: one testpmd virtio_user session, phases A-C.
# Sets TP_TX and TP_RX (testpmd's totals over the session).
tp_driver_session() {
  local tag=$1 devargs=$2
  TP_LOG=$VU_DIR/testpmd-$tag.log
  # shellcheck disable=SC2046
  vu_spawn_fifo TP_PID "$TP_LOG" 90 "$VU_DIR/testpmd-$tag.fifo" stdbuf -oL dpdk-testpmd \
    $(vu_testpmd_eal "${pfx}d$tag" 0,1) --log-level=pmd.net.virtio.init:debug \
    --vdev "net_virtio_user0,path=$sock$devargs" -- -i $VU_TESTPMD_APP --port-topology=loop
  tp_wait_count '^testpmd> ' 1 40
  grep -q 'virtio_user_dev_init fails\|No probed ethernet devices' "$TP_LOG" && {
    vu_show "$TP_LOG"
    vu_fail "testpmd's virtio_user could not set up against $sock"
  }
  local f
  f=$(grep -Eo 'features after negotiate = [0-9a-f]+' "$TP_LOG" | tail -n 1 | awk '{print $5}')
  echo "NEGOTIATED testpmd virtio_user ($devargs) features=0x$f ($(vu_features_decode net "0x$f"))"
  local packed=$((0x${f:-0} >> 34 & 1))
  if [ "$layout" = packed ]; then
    [ $packed -eq 1 ] || vu_fail "packed_vq=1 but RING_PACKED was not negotiated (0x$f)"
  else
    [ $packed -eq 0 ] || vu_fail "split run negotiated RING_PACKED"
  fi
  local base
  base=$(grep -c 'length=64 ' "$TP_LOG")
  # A: 4 bursts of 32 x 64 B, received in rxonly mode, counted exactly.
  tp_send 'set fwd rxonly' 'set verbose 1' 'start tx_first 4'
  tp_wait_count 'length=64 ' $((base + 128)) 20
  sleep 0.5
  tp_send 'stop'
  tp_wait_count 'Forward statistics for port 0' 1 20
  read -r ra ta < <(tp_fwd_stats 1)
  vu_log "$tag phase A (rxonly, 64 B): testpmd tx $ta rx $ra"
  [ "$ta" -eq 128 ] && [ "$ra" -eq 128 ] || vu_fail "phase A: testpmd sent $ta and received $ra, expected 128 and 128"
  local bad
  bad=$(grep -E '^ *src=.* - length=' "$TP_LOG" | grep -Ecv 'type=0x0800 - length=64 ')
  [ "$bad" -eq 0 ] || vu_fail "phase A: $bad received frames were not 64-byte IPv4"
  # B: 32 x 1200 B.
  tp_send 'set txpkts 1200' 'start tx_first 1'
  tp_wait_count 'length=1200 ' 32 20
  sleep 0.5
  tp_send 'stop'
  tp_wait_count 'Forward statistics for port 0' 2 20
  read -r rb tb < <(tp_fwd_stats 2)
  vu_log "$tag phase B (rxonly, 1200 B): testpmd tx $tb rx $rb"
  [ "$tb" -eq 32 ] && [ "$rb" -eq 32 ] || vu_fail "phase B: testpmd sent $tb and received $rb, expected 32 and 32"
  # C: io forwarding, 64 frames circulating for 3 s.
  tp_send 'set verbose 0' 'set txpkts 64' 'set fwd io' 'start tx_first 2'
  sleep 3
  tp_send 'stop'
  tp_wait_count 'Forward statistics for port 0' 3 20
  read -r rc tc < <(tp_fwd_stats 3)
  vu_log "$tag phase C (io, 64 in flight, 3 s): testpmd tx $tc rx $rc"
  [ "$rc" -ge 1000 ] || vu_fail "phase C: only $rc frames came back in 3 s of io forwarding"
  [ "$tc" -ge "$rc" ] && [ $((tc - rc)) -le 64 ] ||
    vu_fail "phase C: testpmd sent $tc and received $rc: more than the 64 in flight missing"
  TP_INFLIGHT=$((tc - rc))
  tp_send 'quit'
  exec 8>&-
  vu_wait_exit "$TP_PID" 30
  [ "$VU_RC" -eq 0 ] || { vu_show "$TP_LOG"; vu_fail "testpmd exited with $VU_RC"; }
  TP_TX=$((ta + tb + tc))
  TP_RX=$((ra + rb + rc))
}

devargs_for() {
  local d=,queue_size=256
  [ "$layout" = packed ] && d=$d,packed_vq=1
  [ "$variant" = nomrg ] && d=$d,mrg_rxbuf=0
  echo "$d"
}

start_echo_backend() {
  local once=$1
  BE_LOG=$VU_DIR/backend.log
  BE_JSON=$VU_DIR/backend.json
  case $peer in
    ours)
      local prog
      prog=$(vu_prog vtio-vhost-net) || exit 1
      local args=(--mode echo --socket "$sock")
      [ "$once" = 1 ] && args+=(--once)
      setsid timeout --kill-after=5 150 "$prog" "${args[@]}" >"$BE_JSON" 2>"$BE_LOG" </dev/null &
      BE=$!
      VU_PIDS+=("$BE")
      vu_wait_log "$BE_LOG" "listening on" 20 "$BE"
      ;;
    testpmd)
      # shellcheck disable=SC2046
      vu_spawn BE "$BE_LOG" 150 dpdk-testpmd $(vu_testpmd_eal "${pfx}b" 0,1) \
        --vdev "net_vhost0,iface=$sock,client=0" -- $VU_TESTPMD_APP \
        --forward-mode=io --port-topology=loop --stats-period 1
      vu_wait_file "$sock" 40 "$BE"
      ;;
    *) vu_fail "--backend ours|testpmd" ;;
  esac
}

# check_backend SESSIONS TX RX INFLIGHT: our back end's JSON against testpmd.
check_backend() {
  local sessions=$1 tx=$2 rx=$3 inflight=$4
  if [ "$peer" = testpmd ]; then
    echo "NEGOTIATED testpmd vhost $(vu_testpmd_features "$BE_LOG")"
    vu_stop "$BE"
    return 0
  fi
  if [ "$sessions" -gt 1 ]; then vu_stop "$BE"; else vu_wait_exit "$BE" 20; fi
  [ "$VU_RC" -eq 0 ] || { vu_show "$BE_LOG"; vu_fail "vtio-vhost-net exited with $VU_RC"; }
  cat "$BE_JSON"
  local p=ports.0 conns in out
  conns=$(vu_json_get "$BE_JSON" $p.connections)
  in=$(vu_json_get "$BE_JSON" $p.in_frames)
  out=$(vu_json_get "$BE_JSON" $p.out_frames)
  vu_log "back end: connections $conns in $in out $out; testpmd tx $tx rx $rx (in flight at stop $inflight)"
  [ "$conns" = "$sessions" ] || vu_fail "back end counted $conns connections, expected $sessions"
  # Everything testpmd sent was taken and echoed; testpmd received all of
  # it but what was still on its rx ring at the last stop.
  [ "$in" = "$tx" ] || vu_fail "back end took $in frames, testpmd sent $tx"
  [ "$out" -le "$in" ] || vu_fail "back end gave out $out frames, more than the $in it took"
  [ "$out" -ge "$rx" ] && [ "$out" -le $((rx + inflight)) ] ||
    vu_fail "back end gave out $out frames, testpmd received $rx (+$inflight in flight)"
  [ "$(vu_json_get "$BE_JSON" $p.dropped)" = 0 ] || vu_fail "echo back end dropped frames"
  [ "$(vu_json_get "$BE_JSON" $p.protocol_errors)" = 0 ] || vu_fail "back end protocol errors"
  local f
  local f pf
  f=$(vu_json_get "$BE_JSON" $p.features)
  pf=$(vu_json_get "$BE_JSON" $p.protocol_features)
  if [ -n "$f" ]; then
    echo "NEGOTIATED wire (testpmd virtio_user -> vtio-vhost-net): features=$f ($(vu_features_decode net "$f")) protocol=$pf ($(vu_protocol_decode "$pf"))"
    local want=0
    [ "$layout" = packed ] && want=1
    [ $((f >> 34 & 1)) -eq $want ] || vu_fail "RING_PACKED on the wire is $((f >> 34 & 1)), expected $want"
  fi
  return 0
}

case $what in
  driver)
    start_echo_backend 1
    tp_driver_session 1 "$(devargs_for)"
    check_backend 1 "$TP_TX" "$TP_RX" "$TP_INFLIGHT"
    ;;
  driver-reconnect)
    start_echo_backend 0
    tp_driver_session 1 "$(devargs_for)"
    tx1=$TP_TX rx1=$TP_RX in1=$TP_INFLIGHT
    vu_alive "$BE" || vu_fail "the back end exited after the first front end left"
    tp_driver_session 2 "$(devargs_for)"
    # Frames in flight when session 1 quit stay unreceived: add both margins.
    check_backend 2 $((tx1 + TP_TX)) $((rx1 + TP_RX)) $((in1 + TP_INFLIGHT))
    ;;
  device | backend-dies)
    TPV_LOG=$VU_DIR/testpmd-vhost.log
    # shellcheck disable=SC2046
    vu_spawn TPV "$TPV_LOG" 150 dpdk-testpmd $(vu_testpmd_eal "${pfx}v" 0,1) \
      --vdev "net_vhost0,iface=$sock" -- $VU_TESTPMD_APP \
      --forward-mode=io --port-topology=loop --stats-period 1
    vu_wait_file "$sock" 40 "$TPV"
    fe=$(vu_prog vtio-vhost-fe) || exit 1
    pk=()
    [ "$layout" = packed ] && pk=(--packed)
    if [ "$what" = device ]; then
      total=0
      run=0
      for spec in "60 200" "256 300" "1514 100" "256 100 --no-event-idx --no-indirect"; do
        run=$((run + 1))
        # shellcheck disable=SC2086
        set -- $spec
        size=$1 count=$2
        shift 2
        out=$VU_DIR/fe$run.json
        timeout --kill-after=5 40 "$fe" --socket "$sock" --type net "${pk[@]}" --count "$count" \
          --size "$size" --seed $run --timeout-ms 30000 "$@" >"$out" 2>"$VU_DIR/fe$run.log"
        rc=$?
        cat "$out"
        [ $rc -eq 0 ] || { vu_show "$VU_DIR/fe$run.log"; vu_show "$TPV_LOG"; vu_fail "vtio-vhost-fe run $run (size $size) exited with $rc"; }
        for k in sent received; do
          [ "$(vu_json_get "$out" $k)" = "$count" ] || vu_fail "run $run: $k = $(vu_json_get "$out" $k), expected $count"
        done
        [ "$(vu_json_get "$out" mismatches)" = 0 ] || vu_fail "run $run: frames came back different"
        [ "$(vu_json_get "$out" ok)" = true ] || vu_fail "run $run: front end says not ok"
        [ "$(vu_json_get "$out" layout)" = "$layout" ] || vu_fail "run $run: layout $(vu_json_get "$out" layout), expected $layout"
        [ "$(vu_json_get "$out" bytes_received)" = $((count * size)) ] || vu_fail "run $run: bytes_received"
        f=$(vu_json_get "$out" features)
        echo "NEGOTIATED vtio-vhost-fe run $run ($*) with testpmd vhost: features=$f ($(vu_features_decode net "$f"))"
        total=$((total + count))
      done
      echo "NEGOTIATED testpmd vhost (last run) $(vu_testpmd_features "$TPV_LOG")"
      # --stats-period prints the counters every second: wait for the final ones.
      for ((i = 0; i < 100; i++)); do
        read -r rxp _ txp _ _ _ < <(vu_testpmd_port_stats "$TPV_LOG")
        [ "$rxp" -ge "$total" ] && [ "$txp" -ge "$total" ] && break
        sleep 0.1
      done
      vu_log "testpmd vhost port: rx $rxp tx $txp; front ends sent $total"
      # testpmd's vhost port counters run on across connections: they must
      # equal the sum of every front end's frames, both ways.
      [ "$rxp" -eq "$total" ] && [ "$txp" -eq "$total" ] ||
        vu_fail "testpmd counters rx $rxp tx $txp, the front ends sent and received $total"
      vu_stop "$TPV"
    else
      out=$VU_DIR/fe.json
      ready=$VU_DIR/fe.ready
      setsid timeout --kill-after=5 60 "$fe" --socket "$sock" --type net "${pk[@]}" --count 100000000 \
        --size 256 --timeout-ms 50000 --ready-file "$ready" >"$out" 2>"$VU_DIR/fe.log" </dev/null &
      FE=$!
      VU_PIDS+=("$FE")
      vu_wait_file "$ready" 30 "$FE"
      sleep 2
      vu_alive "$FE" || vu_fail "the front end finished before the back end was killed"
      kill -KILL -- "-$TPV" # the whole group: testpmd itself, not only its timeout
      vu_wait_exit "$TPV" 10
      vu_wait_exit "$FE" 30
      cat "$out"
      vu_show "$VU_DIR/fe.log" 10
      [ "$VU_RC" -eq 1 ] || vu_fail "front end exited with $VU_RC after its back end died, expected 1"
      [ "$(vu_json_get "$out" ok)" = false ] || vu_fail "front end JSON says ok after its back end died"
      err=$(vu_json_get "$out" error)
      [ -n "$err" ] && [ "$err" != None ] || vu_fail "front end JSON names no error"
      sent=$(vu_json_get "$out" sent)
      got=$(vu_json_get "$out" received)
      inflight=$(vu_json_get "$out" inflight_failed)
      vu_log "front end: sent $sent received $got in flight failed back $inflight, error: $err"
      [ "$got" -gt 0 ] || vu_fail "no frame came back before the kill"
      [ -n "$inflight" ] || vu_fail "front end JSON has no inflight_failed count"
      [ "$inflight" -gt 0 ] || vu_fail "no buffer was in flight when the back end died?"
      # At most every rx and tx descriptor (queue size 256 each) was out.
      [ "$inflight" -le 512 ] || vu_fail "$inflight buffers failed back: more than the rings hold"
      dup=$(vu_json_get "$out" inflight_failed_twice)
      [ -z "$dup" ] || [ "$dup" = 0 ] || vu_fail "$dup buffers failed back twice"
    fi
    ;;
  *) vu_fail "unknown test $what" ;;
esac
echo "PASS: $name"
