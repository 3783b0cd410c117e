#!/usr/bin/env python3
"""Generate the seed corpora of the split-ring fuzz targets.

    python3 fuzz/ring/make_corpus.py            # writes fuzz/ring/corpus/<target>/

fuzz_devq_split: [cfg][rd_cap][wr_cap][image][patches...]
  image = descriptor table (0x800 bytes) + avail ring (0x108) + indirect area
  (0x800); view base 0x1000: desc @0x1000, avail @0x1800, used @0x1c00,
  indirect tables @0x2800, data @0x3000..0x4000. Patches are (off_lo, off_hi,
  value) byte writes into the view applied when the device runs dry.
fuzz_vq_split: [cfg][op x 8 bytes]... (see fuzz_vq_split.c).

Seeds cover valid traffic and one input per hostile class of issue 2, so the
replay under ctest exercises every check even without libFuzzer.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

BASE = 0x1000
DESC, AVAIL, USED, ITAB, DATA = 0x0000, 0x0800, 0x0C00, 0x1800, 0x2000
IMG_DESC, IMG_AVAIL, ITAB_LEN = 0x800, 0x108, 0x800
NEXT, WRITE, INDIRECT = 1, 2, 4


class Ring:
    def __init__(self, log2num=3, cfg_extra=0, rd_cap=16, wr_cap=16):
        self.num = 1 << log2num
        self.cfg = log2num | cfg_extra
        self.caps = (rd_cap, wr_cap)
        self.desc = bytearray(IMG_DESC)
        self.avail = bytearray(IMG_AVAIL)
        self.itab = bytearray(ITAB_LEN)
        self.idx = 0
        self.patches = []

    def d(self, i, addr, ln, flags=0, nxt=0):
        struct.pack_into("<QIHH", self.desc, 16 * i, addr, ln, flags, nxt)

    def t(self, i, addr, ln, flags=0, nxt=0):
        struct.pack_into("<QIHH", self.itab, 16 * i, addr, ln, flags, nxt)

    def head(self, h):
        struct.pack_into("<H", self.avail, 4 + 2 * (self.idx % self.num), h)
        self.idx = (self.idx + 1) & 0xFFFF
        struct.pack_into("<H", self.avail, 2, self.idx)

    def set_idx(self, v):
        struct.pack_into("<H", self.avail, 2, v)

    def patch(self, view_off, value):
        self.patches.append(struct.pack("<HB", view_off, value))

    def bytes(self):
        return (bytes([self.cfg, *self.caps]) + bytes(self.desc) + bytes(self.avail)
                + bytes(self.itab) + b"".join(self.patches))


def data(k):
    return BASE + DATA + 0x40 * k


def itab(off=0):
    return BASE + ITAB + off


def devq_seeds():
    s = {}
    r = Ring()
    r.d(0, data(0), 16, NEXT, 1)
    r.d(1, data(1), 32, WRITE)
    r.head(0)
    s["ok_simple"] = r

    r = Ring(log2num=3)
    for i in range(8):
        r.d(i, data(i), 8 + i, WRITE if i & 1 else 0)
        r.head(i)
    s["ok_full_ring"] = r

    r = Ring()
    r.t(0, data(0), 16, NEXT, 1)
    r.t(1, data(1), 16, NEXT, 2)
    r.t(2, data(2), 64, WRITE)
    r.d(0, data(3), 8, NEXT, 1)
    r.d(1, itab(), 48, INDIRECT)
    r.head(0)
    s["ok_direct_then_indirect"] = r

    r = Ring(rd_cap=1, wr_cap=0)
    r.d(0, data(0), 16, NEXT, 1)
    r.d(1, data(1), 16, NEXT, 2)
    r.d(2, data(2), 16, WRITE)
    r.head(0)
    s["enobufs_then_ok"] = r

    # More heads arrive later through patches (avail ring entry, then idx).
    r = Ring()
    r.d(0, data(0), 16)
    r.d(1, data(1), 16, WRITE)
    r.head(0)
    r.patch(AVAIL + 4 + 2, 1)
    r.patch(AVAIL + 2, 2)
    r.patch(AVAIL + 2, 0x20)  # then an idx jump
    s["patch_more_then_jump"] = r

    r = Ring(); r.head(8); s["head_ge_num"] = r
    r = Ring(); r.d(0, data(0), 16, NEXT, 9); r.head(0); s["next_ge_num"] = r
    r = Ring(); r.d(3, data(0), 16, NEXT, 3); r.head(3); s["loop_self"] = r
    r = Ring(); r.d(0, data(0), 16, NEXT, 1); r.d(1, data(1), 16, NEXT, 0); r.head(0)
    s["loop_two"] = r
    r = Ring(log2num=7)
    for i in range(128):
        r.d(i, data(i % 64), 4, NEXT, (i + 1) % 128)
    r.head(5)
    s["loop_long"] = r
    r = Ring()
    r.t(0, itab(0x100), 32, INDIRECT)
    r.d(0, itab(), 16, INDIRECT)
    r.head(0)
    s["nested_indirect"] = r
    r = Ring(); r.d(0, itab(), 0, INDIRECT); r.head(0); s["indirect_len0"] = r
    r = Ring(); r.t(0, data(0), 8); r.d(0, itab(), 24, INDIRECT); r.head(0)
    s["indirect_len_odd"] = r
    r = Ring(cfg_extra=0x40)  # strict max_indirect = num = 8
    for i in range(9):
        r.t(i, data(i), 4, NEXT if i < 8 else 0, i + 1)
    r.d(0, itab(), 9 * 16, INDIRECT)
    r.head(0)
    s["indirect_over_policy"] = r
    r = Ring(); r.t(0, data(0), 8); r.d(0, itab(), 16, INDIRECT | NEXT, 1); r.head(0)
    s["indirect_and_next"] = r
    r = Ring(); r.t(0, data(0), 8, NEXT, 2); r.t(1, data(1), 8); r.d(0, itab(), 32, INDIRECT)
    r.head(0)
    s["indirect_next_range"] = r
    r = Ring(); r.t(0, data(0), 8, NEXT, 1); r.t(1, data(1), 8, NEXT, 0)
    r.d(0, itab(), 32, INDIRECT); r.head(0)
    s["indirect_loop"] = r
    r = Ring(); r.d(0, data(0), 8, NEXT | WRITE, 1); r.d(1, data(1), 8); r.head(0)
    s["rd_after_wr"] = r
    r = Ring(); r.t(0, data(0), 8, NEXT | WRITE, 1); r.t(1, data(1), 8)
    r.d(0, itab(), 32, INDIRECT); r.head(0)
    s["rd_after_wr_indirect"] = r
    r = Ring(); r.d(0, 0x100000, 16); r.head(0); s["addr_outside"] = r
    r = Ring(); r.d(0, BASE + 0x3000 - 8, 16, WRITE); r.head(0); s["addr_cross_end"] = r
    r = Ring(); r.d(0, 0xFFFFFFFFFFFFFFF0, 0x20); r.head(0); s["addr_wrap"] = r
    r = Ring(); r.d(0, BASE + 0x3000 - 16, 32, INDIRECT); r.head(0); s["itab_cross_end"] = r
    r = Ring(); r.d(0, data(0), 0xFFFFFFFF, NEXT, 1); r.d(1, data(0), 0xFFFFFFFF); r.head(0)
    s["total_over_4g"] = r
    r = Ring(); r.d(0, data(0), 16); r.head(0); r.set_idx(9); s["avail_jump"] = r
    r = Ring(); r.set_idx(0xFFFF); s["avail_backwards"] = r
    r = Ring(cfg_extra=0x08); r.d(0, data(0), 16, NEXT, 1); r.d(1, data(1), 16, WRITE)
    r.head(0); s["legacy_ok"] = r
    r = Ring(cfg_extra=0x10); r.d(0, data(0), 16, NEXT, 1); r.d(1, 0x100000, 16, WRITE)
    r.head(0); s["ops_view_bad_addr"] = r
    r = Ring(cfg_extra=0x80); r.d(0, itab(), 16, INDIRECT); r.head(0)
    s["indirect_not_negotiated"] = r
    r = Ring(log2num=0); r.d(0, data(0), 16, NEXT, 1); r.head(0); s["num1_next"] = r
    return {k: v.bytes() for k, v in s.items()}


def vq_op(kind, *b):
    b = list(b) + [0] * (7 - len(b))
    return bytes([kind] + [x & 0xFF for x in b[:7]])


def add(out, inn, l0=15, l1=31, l2=63, l3=7):
    return vq_op(0, out, inn, l0, l1, l2, l3)


def used_real(k, len_=0, exact=False, not_flight=False):
    flags = (0x40 if exact else 0) | (0x80 if not_flight else 0)
    return vq_op(1, flags, k, 0, *struct.pack("<I", len_))


def used_raw(id_, len_=0, high=False, bit16=False):
    flags = (1 if high else 0) | (2 if bit16 else 0) | (4 if id_ > 0xFF else 0)
    return vq_op(2, flags, id_ & 0xFF, (id_ >> 8) & 0xFF, *struct.pack("<I", len_))


def used_idx(v=None, plus=0):
    if v is not None:
        return vq_op(3, 1, v & 0xFF, v >> 8)
    return vq_op(3, 0, plus)


REAP = vq_op(4)


def vq_seeds():
    s = {}
    s["ok_round_trip"] = bytes([3]) + add(1, 1) + add(2, 0) + used_real(0, 8) + \
        used_real(1, 0) + REAP + vq_op(5, 2) + vq_op(5, 0)
    s["ok_indirect_event_idx"] = bytes([3 | 0x08 | 0x20]) + add(2, 2) + add(1, 2) + \
        used_real(0, 64) + REAP + used_real(0, 0) + REAP + vq_op(5, 3)
    s["ok_in_order_batch"] = bytes([3 | 0x10]) + add(0, 1) + add(1, 1) + add(0, 2) + \
        used_real(2, 5) + used_idx(plus=2) + REAP
    s["ok_legacy"] = bytes([2 | 0x40]) + add(1, 1) + used_real(0, 3) + REAP
    many = bytes([1])
    for i in range(200):
        many += add(1, 1) + used_real(0, 1) + REAP
    s["ok_wrap_many"] = many
    s["id_ge_num"] = bytes([3]) + add(1, 1) + used_raw(8) + REAP
    # A valid head with bit 16 / the high byte set: a driver keeping 16 bits
    # of the 32-bit id would return buffer 0's token.
    s["id_bit16"] = bytes([3]) + add(1, 1) + used_raw(0, bit16=True) + REAP
    s["id_high_byte"] = bytes([3]) + add(1, 1) + used_raw(0, high=True) + REAP
    s["id_not_in_flight"] = bytes([3]) + add(1, 1) + used_raw(5) + REAP
    s["id_mid_chain"] = bytes([3]) + add(2, 1) + used_raw(1) + REAP
    s["id_repeated"] = bytes([3]) + add(1, 0) + add(1, 0) + used_real(0) + \
        used_real(0, not_flight=True) + REAP
    s["len_too_big"] = bytes([3]) + add(1, 1) + used_real(0, 0xFFFFFFFF) + REAP
    s["idx_jump"] = bytes([3]) + add(1, 0) + used_real(0) + used_idx(plus=9) + REAP
    s["idx_far"] = bytes([3]) + add(1, 0) + used_idx(0x8000) + REAP
    s["idx_backwards"] = bytes([3]) + add(1, 0) + used_real(0) + REAP + used_idx(0) + \
        add(1, 0) + used_idx(0xFFFF) + REAP
    # Suppression fields the device controls: NO_NOTIFY and avail_event at
    # odd values, with EVENT_IDX on and off.
    s["suppress_fields"] = bytes([3 | 0x20]) + add(1, 1) + vq_op(6, 1, 0xFF, 0xFF) + \
        vq_op(5, 0) + vq_op(6, 0, 1, 0) + add(1, 0) + vq_op(5, 0) + used_real(0) + \
        used_real(1) + REAP
    s["in_order_bad_id"] = bytes([3 | 0x10]) + add(0, 1) + add(0, 1) + used_raw(6) + REAP
    return s


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, blob in sorted(seeds.items()):
        with open(os.path.join(d, name), "wb") as f:
            f.write(blob)
    print(f"{target}: {len(seeds)} seeds in {d}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit("usage: make_corpus.py")
    write("fuzz_devq_split", devq_seeds())
    write("fuzz_vq_split", vq_seeds())
