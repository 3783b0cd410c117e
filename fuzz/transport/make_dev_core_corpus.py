#!/usr/bin/env python3
"""Write the seed corpus of fuzz_dev_core (see the harness for the input
format): a split and a packed queue taken live and served, a hostile status
sequence, a queue reset cycle, config accesses and mediation inputs."""
import os
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_dev_core")

F = lambda b: 1 << b
V1, INDIRECT, EVENT_IDX, PACKED, RING_RESET, NDATA = F(32), F(28), F(29), F(34), F(40), F(38)


def u8(v): return struct.pack("<B", v & 0xff)
def u16(v): return struct.pack("<H", v & 0xffff)
def u32(v): return struct.pack("<I", v & 0xffffffff)
def u64(v): return struct.pack("<Q", v & 0xffffffffffffffff)


def head(offered, setup=0):
    return u64(offered) + u8(setup)


def op(code, idx=0):
    return u8(code) + u8(idx)


def init(idx, want, log2num, base):
    """op 19: reset, ACK|DRIVER, features, FEATURES_OK, one queue, DRIVER_OK."""
    return op(19, idx) + u64(want) + u8(log2num) + u16(base)


def desc(off, packed, buf, length, flags, x):
    """op 18: one descriptor at arena+off (split: flags, next=x; packed: id=x, flags)."""
    return op(18) + u16(off) + u8(packed) + u16(buf) + u16(length) + u16(flags) + u16(x)


def raw(off, data):
    """op 10: raw bytes into the arena."""
    return op(10) + u16(off) + u8(len(data)) + data


def notify(idx):
    return op(7, idx) + u8(0)


def serve(idx):
    return op(11, idx) + u32(3)


def status(v):
    return op(0) + u8(v)


def feat(word, v):
    return op(2) + u8(word) + u32(v)


def split_traffic():
    base, num = 0x1000, 16
    avail = base + 16 * num
    s = head(V1 | INDIRECT | EVENT_IDX) + init(0, V1 | INDIRECT, 4, base)
    s += desc(base + 0, 0, 0x4000, 32, 0x1, 1)       # NEXT -> 1
    s += desc(base + 16, 0, 0x4100, 32, 0x2, 0)      # WRITE
    s += raw(avail + 4, u16(0)) + raw(avail + 2, u16(1))
    s += notify(0) + serve(0)
    # a second chain, then a loop (desc 2 -> 2) the device must reject
    s += desc(base + 32, 0, 0x4200, 8, 0x1, 2)
    s += raw(avail + 6, u16(2)) + raw(avail + 2, u16(2)) + notify(0)
    s += op(16, 0) + u32(0) + u32(1)  # check_queue
    return s


def packed_traffic():
    base, num = 0x2000, 8
    s = head(V1 | PACKED | INDIRECT | NDATA) + init(1, V1 | PACKED | NDATA, 3, base)
    s += desc(base + 0, 1, 0x5000, 32, 0x81, 0)      # AVAIL|NEXT
    s += desc(base + 16, 1, 0x5100, 32, 0x82, 5)     # AVAIL|WRITE, id 5
    s += op(7, 1) + u8(1) + u32(1 | (2 << 16))       # notification data
    s += serve(1)
    s += desc(base + 32, 1, 0x5200, 16, 0x80, 99)    # id out of range
    s += notify(1)
    return s


def hostile_status():
    s = head(V1 | INDIRECT | F(0) | F(7))
    s += status(4)                                   # DRIVER_OK first
    s += status(0) + status(1 | 8)                   # FEATURES_OK without DRIVER
    s += status(3) + feat(0, F(5)) + feat(1, 1) + status(11)   # unoffered bit
    s += feat(0, F(7)) + status(11)                  # the type refuses bit 7
    s += feat(0, F(0)) + status(11) + status(1)      # clearing write
    s += feat(2, 1) + status(0x7f) + status(0xff) + status(0)
    s += op(3, 0) + u16(16) + u8(0) + u16(0x100) + u8(0) + u16(0x200) + u8(0) + u16(0x300)
    s += op(4, 0) + notify(0) + status(15) + notify(3)
    return s


def queue_reset_cycle():
    base = 0x3000
    s = head(V1 | RING_RESET | PACKED) + init(2, V1 | RING_RESET, 2, base)
    s += op(6, 2)                                    # queue reset
    s += op(3, 2) + u16(4) + u8(0) + u16(base) + u8(0) + u16(base + 64) + u8(0) + u16(base + 80)
    s += op(4, 2) + op(5, 2) + op(4, 2) + op(6, 2) + op(6, 3)
    s += init(2, V1 | PACKED | RING_RESET, 2, base) + op(6, 2) + op(4, 2)
    return s


def config_and_mem():
    s = head(V1, 0x40)                              # no view at init
    s += init(0, V1, 3, 0x800)                      # cannot go live: NEEDS_RESET
    s += op(15, 0) + u8(1) + u8(1)                  # set the device-wide view
    s += init(0, V1, 3, 0x800)
    s += op(8) + u8(36) + u8(8) + op(9) + u8(0) + u8(4) + u8(0x5a)
    s += op(13) + op(14) + u8(1) + u8(38) + u8(4) + op(12)
    s += op(15, 1) + u8(2) + u8(0)                  # queue 1: the small view
    return s


def mediation():
    s = head(V1)
    for flags in (0, 1):
        s += op(17) + u64(V1 | F(0) | PACKED | F(37)) + u8(1) + u64(F(0)) + u64(PACKED | INDIRECT | F(30) | F(43)) + u8(flags)
        s += op(17) + u64(V1 | PACKED) + u8(0) + u64(V1 | INDIRECT) + u64(~0) + u64(~0) + u8(flags)
    s += op(17) + u64(0) + u8(1) + u64(0) + u64(0) + u8(0)
    return s


SEEDS = {
    "split_traffic": split_traffic(),
    "packed_traffic": packed_traffic(),
    "hostile_status": hostile_status(),
    "queue_reset_cycle": queue_reset_cycle(),
    "config_and_mem": config_and_mem(),
    "mediation": mediation(),
}

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("wrote %d seeds to %s" % (len(SEEDS), out))
