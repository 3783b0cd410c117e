#!/usr/bin/env bash
# Interop: a Linux guest (Debian's kernel, its own virtio_pci/virtio_blk/
# virtio_net drivers) under QEMU (TCG) as the vhost-user front end, against
# our back ends.
#
#   vhost_user_qemu.sh blk split|packed [ours|qsd] [--boots N]
#   vhost_user_qemu.sh net split|packed [ours|testpmd] [--boots N]
#
# blk: QEMU's vhost-user-blk-pci [packed=on] against vtio-vhost-blk (or, to
#      check this harness, qemu-storage-daemon). The guest reads the whole
#      disk (sha256 must equal the host image's), writes 64 x 512 B and
#      2 x 1 MiB with O_DIRECT, flushes, reads both back (equal), powers off;
#      the host then checks those regions of the file hold what the guest
#      wrote and that every other byte is unchanged.
# net: QEMU's virtio-net-pci,vectors=0 [packed=on] with -netdev vhost-user
#      against vtio-vhost-net --mode echo (or testpmd net_vhost0 in io loop).
#      The guest sends ICMP requests to a static neighbour; every frame comes
#      back: guest rx == guest tx, and the back end's in/out frame counts
#      equal the guest's tx/rx counters exactly.
# --boots N: N guests one after the other against the same back end process
#      (the front end goes away and comes back; the back end serves each).
# VTIO_INTEROP_BLK_LOOPS=N (blk, default 1): the guest reads the whole disk N
#      times (a soak for lost notifications; timeouts grow by 10 s a read).
#
# Negotiated features (the guest's sysfs view, bit i = character i) are
# logged as hex. Packed requested: the guest must see RING_PACKED from our
# back ends; qemu-storage-daemon (libvhost-user) does not offer it, which
# is recorded, not failed.
# Checklist: vhost-user interop (issue 12).
# shellcheck source=vhost_user_lib.sh disable=SC2154 # pids are set by vu_spawn (printf -v)
. "$(dirname "$0")/vhost_user_lib.sh"

kind=${1:?blk|net}
layout=${2:?split|packed}
peer=${3:-ours}
boots=1
[ "${4:-}" = --boots ] && boots=${5:?}
case "$kind/$peer" in
  blk/ours | blk/qsd | net/ours | net/testpmd) ;;
  *) vu_fail "usage: $0 blk split|packed [ours|qsd] | net split|packed [ours|testpmd] [--boots N]" ;;
esac
case "$layout" in split | packed) ;; *) vu_fail "layout must be split or packed" ;; esac

name=vhost_user_qemu_${kind}_${layout}_${peer}
[ "$boots" -gt 1 ] && name=${name}_x$boots
vu_init "$name"

pkgs=(qemu-system-x86 linux-image-amd64 busybox-static python3)
[ "$peer" = qsd ] && pkgs+=(qemu-system-common)
[ "$peer" = testpmd ] && pkgs+=(dpdk dpdk-dev)
vu_deps "${pkgs[@]}"

read -r kernel moddir < <("$VU_PY" "$VU_SRC/tests/interop/vhost_user_guest.py" kernel) ||
  vu_fail "no guest kernel"
mods=(virtio_pci virtio_blk)
[ "$kind" = net ] && mods=(virtio_pci virtio_net)
initrd=$VU_DIR/initramfs.cpio.gz
loaded=$("$VU_PY" "$VU_SRC/tests/interop/vhost_user_guest.py" initramfs "$initrd" "$moddir" "${mods[@]}") ||
  vu_fail "initramfs build failed"
vu_log "guest kernel $kernel, modules: $loaded"

sock=$VU_DIR/vu.sock
loops=${VTIO_INTEROP_BLK_LOOPS:-1}
[[ $loops =~ ^[1-9][0-9]*$ ]] || vu_fail "VTIO_INTEROP_BLK_LOOPS must be a positive integer"
extra=$((10 * (loops - 1)))
pk=
[ "$layout" = packed ] && pk=,packed=on

# ---- back end --------------------------------------------------------------
be_log=$VU_DIR/backend.log
be_json=$VU_DIR/backend.json
img=$VU_DIR/disk.img
sectors=32768 # 16 MiB
if [ "$kind" = blk ]; then
  "$VU_PY" - "$img" "$sectors" <<'EOF'
import random, sys
r = random.Random(12)
open(sys.argv[1], "wb").write(r.randbytes(int(sys.argv[2]) * 512))
EOF
  cp "$img" "$VU_DIR/disk.orig"
  case $peer in
    ours)
      prog=$(vu_prog vtio-vhost-blk) || exit 1
      args=(--socket "$sock" --image "$img")
      [ "$boots" -eq 1 ] && args+=(--once)
      setsid timeout --kill-after=5 $((60 + (40 + extra) * boots)) "$prog" "${args[@]}" >"$be_json" 2>"$be_log" </dev/null &
      be=$!
      VU_PIDS+=("$be")
      vu_wait_log "$be_log" "listening on" 20 "$be"
      ;;
    qsd)
      vu_spawn be "$be_log" $((60 + (40 + extra) * boots)) qemu-storage-daemon \
        --blockdev "driver=file,node-name=file0,filename=$img,cache.direct=off" \
        --export "type=vhost-user-blk,id=exp0,addr.type=unix,addr.path=$sock,node-name=file0,writable=on"
      vu_wait_file "$sock" 20 "$be"
      ;;
  esac
  device=(-chardev "socket,id=vu,path=$sock" -device "vhost-user-blk-pci,chardev=vu,num-queues=1$pk")
  append="vtio.mode=blk vtio.a=2048 vtio.b=8192 vtio.loops=$loops vtio.stall=$((60 + extra))"
else
  frames=40
  case $peer in
    ours)
      prog=$(vu_prog vtio-vhost-net) || exit 1
      args=(--mode echo --socket "$sock")
      [ "$boots" -eq 1 ] && args+=(--once)
      setsid timeout --kill-after=5 $((60 + 40 * boots)) "$prog" "${args[@]}" >"$be_json" 2>"$be_log" </dev/null &
      be=$!
      VU_PIDS+=("$be")
      vu_wait_log "$be_log" "listening on" 20 "$be"
      ;;
    testpmd)
      # shellcheck disable=SC2046
      vu_spawn be "$be_log" $((60 + 40 * boots)) dpdk-testpmd $(vu_testpmd_eal "vq$$" 0,1) \
        --vdev "net_vhost0,iface=$sock" -- $VU_TESTPMD_APP \
        --forward-mode=io --port-topology=loop --stats-period 1
      vu_wait_file "$sock" 30 "$be"
      ;;
  esac
  device=(-chardev "socket,id=vu,path=$sock" -netdev "vhost-user,id=n0,chardev=vu"
    -device "virtio-net-pci,netdev=n0,vectors=0,mac=52:54:00:12:34:56$pk")
  append="vtio.mode=net vtio.frames=$frames ipv6.disable=1"
fi

# ---- guests ----------------------------------------------------------------
total_tx=0
total_rx=0
for ((boot = 1; boot <= boots; boot++)); do
  con=$VU_DIR/console$boot.log
  vu_spawn q "$VU_DIR/qemu$boot.log" $((90 + extra)) qemu-system-x86_64 -nodefaults -no-user-config \
    -machine pc,accel=tcg -cpu max -smp 1 -m 256 \
    -object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet $append" \
    -display none -serial "file:$con" -monitor none -no-reboot "${device[@]}"
  # A guest that has not finished 5 s before its timeout: ask our back end
  # for its queues' state (positions, a buffer waiting, both sides' event
  # words, kicks and calls) while the front end is still connected, so a
  # stall says which side waits on which.
  for ((t = 0; t < (85 + extra) * 10; t++)); do vu_alive "$q" || break; sleep 0.1; done
  if vu_alive "$q" && [ "$peer" = ours ]; then
    bp=$(vu_child_of "$be")
    if [ -n "$bp" ]; then
      kill -USR1 "$bp" 2>/dev/null
      sleep 1
      vu_log "guest $boot stalled; back end state: $(grep '"event":"stats"' "$be_json" | tail -n 1)"
    fi
  fi
  vu_wait_exit "$q" $((100 + extra))
  qrc=$VU_RC
  res=$("$VU_PY" "$VU_SRC/tests/interop/vhost_user_guest.py" results "$con")
  vu_log "guest $boot (qemu exit $qrc): $res"
  [ "$qrc" -eq 0 ] || {
    vu_show "$VU_DIR/qemu$boot.log"
    vu_show "$con" 40
    vu_show "$be_log"
    vu_fail "qemu exited with $qrc"
  }
  g() { "$VU_PY" -c 'import json,sys; print(json.loads(sys.argv[1]).get(sys.argv[2], ""))' "$res" "$1"; }
  [ "$(g "done")" = ok ] || {
    vu_show "$con" 40
    vu_fail "guest did not finish (done=$(g "done") error=$(g error))"
  }
  [ -z "$(g error)" ] || vu_fail "guest error: $(g error)"
  [ -z "$(g insmod_failed)" ] || vu_fail "guest could not load $(g insmod_failed)"
  fbits=$(g features)
  fhex=$("$VU_PY" -c 'import sys; s=sys.argv[1]; print(hex(sum(1 << i for i, c in enumerate(s) if c == "1")))' "$fbits")
  echo "NEGOTIATED qemu-guest $kind $layout peer=$peer features=$fhex ($(vu_features_decode $kind "$fhex"))"
  packed_bit=${fbits:34:1}
  if [ "$layout" = packed ]; then
    if [ "$peer" = qsd ]; then
      [ "$packed_bit" = 0 ] && echo "QUIRK: qemu-storage-daemon (libvhost-user) does not offer RING_PACKED; the guest runs split"
    else
      [ "$packed_bit" = 1 ] || vu_fail "packed=on but the guest negotiated no RING_PACKED (features $fhex)"
    fi
  else
    [ "$packed_bit" = 0 ] || vu_fail "split run negotiated RING_PACKED"
  fi

  if [ "$kind" = blk ]; then
    [ "$(g size_sectors)" = "$sectors" ] || vu_fail "guest sees $(g size_sectors) sectors, image has $sectors"
    orig_sha=$(sha256sum "$VU_DIR/disk.orig" | cut -d' ' -f1)
    [ "$(g read_sha256)" = "$orig_sha" ] || vu_fail "guest read of the whole disk differs from the image"
    [ "$(g a_sha256)" = "$(g a_back_sha256)" ] || vu_fail "512-byte writes read back differently"
    [ "$(g b_sha256)" = "$(g b_back_sha256)" ] || vu_fail "1 MiB writes read back differently"
    # The file itself, after this guest.
    "$VU_PY" - "$img" "$VU_DIR/disk.orig" "$(g a_sha256)" "$(g b_sha256)" <<'EOF' || vu_fail "image file check failed"
import hashlib, sys
img = open(sys.argv[1], "rb").read()
orig = open(sys.argv[2], "rb").read()
a0, a1 = 2048 * 512, 2048 * 512 + 64 * 512
b0, b1 = 8192 * 512, 8192 * 512 + 2 * 1048576
ok = True
if len(img) != len(orig):
    print("image size changed: %d -> %d" % (len(orig), len(img))); ok = False
if hashlib.sha256(img[a0:a1]).hexdigest() != sys.argv[3]:
    print("region A of the file is not what the guest wrote"); ok = False
if hashlib.sha256(img[b0:b1]).hexdigest() != sys.argv[4]:
    print("region B of the file is not what the guest wrote"); ok = False
if img[:a0] != orig[:a0] or img[a1:b0] != orig[a1:b0] or img[b1:] != orig[b1:]:
    print("bytes outside the written regions changed"); ok = False
print("image check: %s" % ("ok" if ok else "FAILED"))
sys.exit(0 if ok else 1)
EOF
    cp "$img" "$VU_DIR/disk.orig" # the next guest starts from this content
  else
    tx=$(g tx_delta)
    rx=$(g rx_delta)
    [ "$(g operstate)" = up ] || vu_fail "eth0 never came up (operstate $(g operstate))"
    [ "$tx" -ge "$frames" ] || vu_fail "guest sent $tx frames, expected >= $frames"
    [ "$rx" -eq "$tx" ] || vu_fail "guest sent $tx frames and got $rx back"
    [ "$(g rx_errors)" = 0 ] && [ "$(g tx_errors)" = 0 ] || vu_fail "guest interface errors: rx $(g rx_errors) tx $(g tx_errors)"
    total_tx=$((total_tx + $(g tx_packets)))
    total_rx=$((total_rx + $(g rx_packets)))
  fi
done

# ---- back end counters -----------------------------------------------------
case $peer in
  ours)
    if [ "$boots" -gt 1 ]; then
      vu_stop "$be"
    else
      vu_wait_exit "$be" 20
    fi
    [ "$VU_RC" -eq 0 ] || { vu_show "$be_log"; vu_fail "back end exited with $VU_RC"; }
    cat "$be_json"
    if [ "$kind" = blk ]; then
      conns=$(vu_json_get "$be_json" connections)
      [ "$conns" = "$boots" ] || vu_fail "back end served $conns connections, expected $boots"
      for k in errors protocol_errors; do
        [ "$(vu_json_get "$be_json" $k)" = 0 ] || vu_fail "back end $k = $(vu_json_get "$be_json" $k)"
      done
      w=$(vu_json_get "$be_json" writes)
      wb=$(vu_json_get "$be_json" write_bytes)
      # The guest block layer merges and splits requests as it likes (the
      # 64 small writes arrive merged): only the bytes are exact.
      [ "$w" -ge $((2 * boots)) ] || vu_fail "back end saw $w write requests, expected >= $((2 * boots))"
      rb=$(vu_json_get "$be_json" read_bytes)
      [ "$rb" -ge $((sectors * 512 * boots)) ] || vu_fail "back end read $rb bytes, less than $boots whole-disk read(s)"
      [ "$wb" -eq $(((64 * 512 + 2 * 1048576) * boots)) ] ||
        vu_fail "back end wrote $wb bytes, the guests wrote $(((64 * 512 + 2 * 1048576) * boots))"
      [ "$(vu_json_get "$be_json" flushes)" -ge "$boots" ] || vu_fail "no FLUSH reached the back end"
    else
      p=ports.0
      conns=$(vu_json_get "$be_json" $p.connections)
      [ "$conns" = "$boots" ] || vu_fail "back end served $conns connections, expected $boots"
      in=$(vu_json_get "$be_json" $p.in_frames)
      out=$(vu_json_get "$be_json" $p.out_frames)
      [ "$in" = "$total_tx" ] || vu_fail "back end took $in frames, the guests sent $total_tx"
      [ "$out" = "$total_rx" ] || vu_fail "back end gave $out frames, the guests received $total_rx"
      [ "$(vu_json_get "$be_json" $p.dropped)" = 0 ] || vu_fail "echo mode dropped frames"
      [ "$(vu_json_get "$be_json" $p.protocol_errors)" = 0 ] || vu_fail "protocol errors"
    fi
    jp=
    [ "$kind" = net ] && jp=ports.0.
    f=$(vu_json_get "$be_json" ${jp}features)
    pf=$(vu_json_get "$be_json" ${jp}protocol_features)
    if [ -n "$f" ]; then
      echo "NEGOTIATED wire (QEMU -> vtio-vhost-$kind) $layout features=$f ($(vu_features_decode $kind "$f")) protocol=$pf ($(vu_protocol_decode "$pf"))"
      [ "$layout" = packed ] && [ $((f >> 34 & 1)) -ne 1 ] && vu_fail "QEMU did not set RING_PACKED on the wire"
    fi
    ;;
  qsd)
    vu_stop "$be"
    ;;
  testpmd)
    echo "NEGOTIATED testpmd vhost $(vu_testpmd_features "$be_log")"
    vu_stop "$be"
    ;;
esac
echo "PASS: $name"
