#!/usr/bin/env bash
# Interop: qemu-storage-daemon's vhost-user-blk export (QEMU's
# libvhost-user based block server) as the device, our vtio-vhost-fe
# --type blk as the driver.
#
#   vhost_user_qsd.sh split
#       1. rw: 64 x 4 KiB writes from sector 1000, FLUSH, GET_ID, read back
#          and compared by the front end;
#       2. rw: 16 x 64 KiB writes from sector 4096 (another connection: the
#          daemon serves the next front end);
#       3. verify: a third connection reads run 1's sectors back only;
#       then the daemon is stopped and the image file itself is checked:
#       the front end's pattern (docs/vhost-user.md, "Blk pattern") in the
#       written sectors, every other byte as before.
#   vhost_user_qsd.sh packed
#       libvhost-user does not offer VIRTIO_F_RING_PACKED: `--packed` must be
#       refused cleanly: exit 1, ok=false, an error naming the packed ring,
#       and the image untouched.
# shellcheck source=vhost_user_lib.sh disable=SC2154 # pids are set by vu_spawn (printf -v)
. "$(dirname "$0")/vhost_user_lib.sh"

layout=${1:?split|packed}
case "$layout" in split | packed) ;; *) vu_fail "layout must be split or packed" ;; esac
name=vhost_user_qsd_blk_$layout
vu_init "$name"
vu_deps qemu-system-common python3
command -v qemu-storage-daemon >/dev/null || vu_skip "qemu-storage-daemon not found (package qemu-system-common)"

fe=$(vu_prog vtio-vhost-fe) || exit 1
sock=$VU_DIR/qsd.sock
img=$VU_DIR/disk.img
sectors=16384 # 8 MiB
"$VU_PY" - "$img" "$sectors" <<'EOF'
import random, sys
open(sys.argv[1], "wb").write(random.Random(7).randbytes(int(sys.argv[2]) * 512))
EOF
cp "$img" "$VU_DIR/disk.orig"

vu_spawn qsd "$VU_DIR/qsd.log" 120 qemu-storage-daemon \
  --blockdev "driver=file,node-name=file0,filename=$img" \
  --export "type=vhost-user-blk,id=vtioexp,addr.type=unix,addr.path=$sock,node-name=file0,writable=on,num-queues=1"
vu_wait_file "$sock" 20 "$qsd"

# fe_run N ARGS...: one front end run; its JSON in $VU_DIR/feN.json, exit
# code in FE_RC.
fe_run() {
  local n=$1
  shift
  timeout --kill-after=5 60 "$fe" --socket "$sock" --type blk --timeout-ms 40000 "$@" \
    >"$VU_DIR/fe$n.json" 2>"$VU_DIR/fe$n.log"
  FE_RC=$?
  cat "$VU_DIR/fe$n.json"
}
need() { # need FILE KEY VALUE
  local v
  v=$(vu_json_get "$1" "$2")
  [ "$v" = "$3" ] || vu_fail "$(basename "$1"): $2 = '$v', expected '$3'"
}

if [ "$layout" = packed ]; then
  fe_run 1 --packed --count 8 --sector 0
  vu_show "$VU_DIR/fe1.log" 5
  [ "$FE_RC" -eq 1 ] || vu_fail "--packed against a back end without RING_PACKED exited $FE_RC, expected 1"
  need "$VU_DIR/fe1.json" ok false
  err=$(vu_json_get "$VU_DIR/fe1.json" error)
  # The error must name what is missing: the packed ring, by name or as its
  # feature bit (VIRTIO_F_RING_PACKED = bit 34 = 0x400000000). The socket
  # path is cut out first (this test's directory name contains "packed").
  e=${err//$sock/SOCKET}
  echo "$e" | grep -Eiq 'packed|0x400000000|bit 34' || vu_fail "the error does not name the packed ring: '$err'"
  echo "QUIRK: qemu-storage-daemon offers no VIRTIO_F_RING_PACKED (libvhost-user); --packed refused with: $e"
  vu_alive "$qsd" || vu_fail "qemu-storage-daemon died after the refused front end"
  # The daemon still serves a split front end after the refusal: 4 x 4 KiB
  # from sector 0.
  fe_run 2 --count 4 --size 4096 --sector 0 --seed 5
  [ "$FE_RC" -eq 0 ] || vu_fail "split front end after the refused packed one exited $FE_RC"
  vu_stop "$qsd"
  "$VU_PY" - "$img" "$VU_DIR/disk.orig" <<'EOF' || vu_fail "image file check failed"
import sys
img = open(sys.argv[1], "rb").read()
orig = open(sys.argv[2], "rb").read()
exp = bytes((((o >> 9) * 131 + (o & 511) + 5) & 0xff) for o in range(4 * 4096))
if img[:4 * 4096] != exp:
    print("the split run's 4 requests are not in the file"); sys.exit(1)
if img[4 * 4096:] != orig[4 * 4096:]:
    print("bytes beyond the 4 written requests changed (the refused packed run wrote?)"); sys.exit(1)
print("image check: ok")
EOF
  echo "PASS: $name"
  exit 0
fi

fe_run 1 --count 64 --size 4096 --sector 1000 --blk-mode rw --seed 3
[ "$FE_RC" -eq 0 ] || { vu_show "$VU_DIR/fe1.log"; vu_show "$VU_DIR/qsd.log"; vu_fail "front end run 1 exited $FE_RC"; }
need "$VU_DIR/fe1.json" ok true
need "$VU_DIR/fe1.json" layout split
need "$VU_DIR/fe1.json" written 64
need "$VU_DIR/fe1.json" read 64
need "$VU_DIR/fe1.json" flushes 1
f=$(vu_json_get "$VU_DIR/fe1.json" features)
pf=$(vu_json_get "$VU_DIR/fe1.json" protocol_features)
echo "NEGOTIATED vtio-vhost-fe with qemu-storage-daemon: features=$f ($(vu_features_decode blk "$f"))${pf:+ protocol=$pf ($(vu_protocol_decode "$pf"))}"
echo "GET_ID from qemu-storage-daemon: '$(vu_json_get "$VU_DIR/fe1.json" serial)'"

fe_run 2 --count 16 --size 65536 --sector 4096 --blk-mode rw --seed 4
[ "$FE_RC" -eq 0 ] || { vu_show "$VU_DIR/fe2.log"; vu_fail "front end run 2 (64 KiB requests) exited $FE_RC"; }
need "$VU_DIR/fe2.json" ok true
need "$VU_DIR/fe2.json" written 16

fe_run 3 --count 64 --size 4096 --sector 1000 --blk-mode verify --seed 3
[ "$FE_RC" -eq 0 ] || { vu_show "$VU_DIR/fe3.log"; vu_fail "front end run 3 (verify run 1's data on a new connection) exited $FE_RC"; }
need "$VU_DIR/fe3.json" read 64

vu_stop "$qsd"
"$VU_PY" - "$img" "$VU_DIR/disk.orig" <<'EOF' || vu_fail "image file check failed"
import sys
img = open(sys.argv[1], "rb").read()
orig = bytearray(open(sys.argv[2], "rb").read())
def pattern(first_sector, nbytes, seed):
    o0 = first_sector * 512
    return bytes((((o >> 9) * 131 + (o & 511) + seed) & 0xff) for o in range(o0, o0 + nbytes))
for sector, nbytes, seed in ((1000, 64 * 4096, 3), (4096, 16 * 65536, 4)):
    exp = pattern(sector, nbytes, seed)
    got = img[sector * 512:sector * 512 + nbytes]
    if got != exp:
        bad = next(i for i in range(nbytes) if got[i] != exp[i])
        print("sector %d run: byte %d differs (0x%02x, expected 0x%02x)" % (sector, bad, got[bad], exp[bad]))
        sys.exit(1)
    orig[sector * 512:sector * 512 + nbytes] = exp
if len(img) != len(orig) or img != bytes(orig):
    print("bytes outside the written sectors changed")
    sys.exit(1)
print("image check: ok (written sectors hold the pattern, the rest unchanged)")
EOF
echo "PASS: $name"
