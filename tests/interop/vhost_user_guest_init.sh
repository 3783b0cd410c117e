#!/bin/sh
# /init of the guest initramfs built by vhost_user_guest.py (busybox sh).
# The kernel command line says what to do: vtio.mode=blk|net plus the
# parameters below. Every result is one line "VTIO key=value" on the serial
# console; the host test parses them. The guest always powers off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
mount -t tmpfs tmp /tmp

say() { echo "VTIO $*"; }
param() {
  for w in $(cat /proc/cmdline); do
    case "$w" in "vtio.$1="*) echo "${w#*=}"; return ;; esac
  done
  echo "$2"
}
finish() {
  say "done=$1"
  sync
  poweroff -f
  sleep 5
}

# Modules in dependency order (vhost_user_guest.py wrote the list).
while read -r m; do
  insmod "/lib/modules/$m" || say "insmod_failed=$m"
done </lib/modules/order

mode=$(param mode none)
say "mode=$mode"

blk() {
  i=0
  while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -b /dev/vda ] || { say "error=no_vda"; finish fail; return; }
  say "features=$(cat /sys/block/vda/device/features)"
  say "size_sectors=$(cat /sys/block/vda/size)"
  say "ro=$(cat /sys/block/vda/ro)"
  # A stall watchdog (vtio.stall seconds, default 60; a run takes ~15): what
  # the block layer still has in flight, read and write, if I/O stops.
  (sleep "$(param stall 60)"
    say "stall_inflight=$(tr -s ' ' _ </sys/block/vda/inflight)"
    say "stall_stat=$(tr -s ' ' _ </sys/block/vda/stat)") &
  # 1. Whole-disk read: must equal the host's image. vtio.loops=N (default
  #    1) repeats it N times, each read equal to the first (a soak for
  #    lost notifications; the ctests use the default).
  sum=$(dd if=/dev/vda bs=65536 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
  say "read_sha256=$sum"
  n=$(param loops 1)
  i=1
  while [ "$i" -lt "$n" ]; do
    s=$(dd if=/dev/vda bs=65536 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)
    [ "$s" = "$sum" ] || say "error=reread_$i"
    i=$((i + 1))
  done
  [ "$n" -gt 1 ] && say "loops_done=$n"
  # 2. Small requests: 64 x 512-byte direct writes at sector A.
  a=$(param a 2048)
  dd if=/dev/urandom of=/tmp/pa bs=512 count=64 2>/dev/null
  say "a_sha256=$(sha256sum /tmp/pa | cut -d' ' -f1)"
  dd if=/tmp/pa of=/dev/vda bs=512 seek="$a" oflag=direct conv=fsync 2>/dev/null ||
    say "error=write_a"
  # 3. Large requests: 2 x 1 MiB direct writes at sector B (several
  #    descriptors each, split by the driver at seg_max/size_max).
  b=$(param b 8192)
  dd if=/dev/urandom of=/tmp/pb bs=1048576 count=2 2>/dev/null
  say "b_sha256=$(sha256sum /tmp/pb | cut -d' ' -f1)"
  dd if=/tmp/pb of=/dev/vda bs=1048576 seek=$((b / 2048)) oflag=direct conv=fsync 2>/dev/null ||
    say "error=write_b"
  blockdev --flushbufs /dev/vda
  # 4. Read both back past the page cache.
  echo 3 >/proc/sys/vm/drop_caches
  say "a_back_sha256=$(dd if=/dev/vda bs=512 skip="$a" count=64 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
  say "b_back_sha256=$(dd if=/dev/vda bs=1048576 skip=$((b / 2048)) count=2 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
  finish ok
}

net() {
  n=$(param frames 32)
  i=0
  while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  [ -e /sys/class/net/eth0 ] || { say "error=no_eth0"; finish fail; return; }
  say "features=$(cat /sys/class/net/eth0/device/features)"
  say "mac=$(cat /sys/class/net/eth0/address)"
  ip link set eth0 up
  ip addr add 10.0.2.15/24 dev eth0
  i=0
  while [ "$(cat /sys/class/net/eth0/operstate)" != up ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  say "operstate=$(cat /sys/class/net/eth0/operstate)"
  s=/sys/class/net/eth0/statistics
  sleep 0.5
  tx0=$(cat $s/tx_packets); rx0=$(cat $s/rx_packets)
  # n ICMP echo requests (200 data bytes, payload pattern a5) to a neighbour
  # with a fixed MAC, so nothing else (ARP) is sent; a peer that loops every
  # frame back hands each one to the guest again (dropped by the stack as not
  # ours, but counted by virtio_net as received).
  arp -i eth0 -s 10.0.2.2 02:00:00:00:00:02 || say "error=arp_s"
  ping -c "$n" -i 0.05 -s 200 -p a5 -W 1 -w 20 10.0.2.2 2>&1 | tail -n 2
  sleep 1
  tx1=$(cat $s/tx_packets); rx1=$(cat $s/rx_packets)
  say "tx_delta=$((tx1 - tx0))"
  say "rx_delta=$((rx1 - rx0))"
  say "tx_packets=$tx1"
  say "rx_packets=$rx1"
  say "rx_errors=$(cat $s/rx_errors)"
  say "tx_errors=$(cat $s/tx_errors)"
  finish ok
}

case "$mode" in
  blk) blk ;;
  net) net ;;
  *) say "error=unknown_mode"; finish fail ;;
esac
