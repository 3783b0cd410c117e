#!/usr/bin/env python3
"""Write the seed corpora of the packed-ring fuzz targets
(fuzz_devq_packed, fuzz_vq_packed) into fuzz/ring/corpus/. Run from anywhere;
the files are checked in, so this only needs re-running when seeds change."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 0x1000
DESC_OFF, DRVEV_OFF, ITAB_OFF, DATA_OFF = 0x0000, 0x0800, 0x1000, 0x2000
AV, US, NEXT, WR, IND = 0x80, 0x8000, 1, 2, 4


def devq_seed(num, cfg2=0, descs=(), table=(), drvev=b"\0\0\0\0", patches=(), rd_cap=64, wr_cap=64):
    desc = bytearray(0x800)
    for slot, addr, ln, i, fl in descs:
        struct.pack_into("<QIHH", desc, slot * 16, addr, ln, i, fl)
    itab = bytearray(0x800)
    for k, (addr, ln, fl) in enumerate(table):
        struct.pack_into("<QIHH", itab, k * 16, addr, ln, 0, fl)
    out = bytes([(num - 1) % 128, cfg2, rd_cap, wr_cap]) + bytes(desc) + drvev[:4] + bytes(itab)
    for off, val in patches:
        out += struct.pack("<HB", off, val)
    return out


def D(x):
    return BASE + DATA_OFF + x


def patch_desc(slot, addr, ln, i, fl):
    """Patches writing a whole descriptor, flags last (as a driver does)."""
    raw = struct.pack("<QIHH", addr, ln, i, fl)
    return [(DESC_OFF + slot * 16 + k, raw[k]) for k in range(16)]


DEVQ = {
    "ok_single": devq_seed(4, descs=[(0, D(0), 32, 0, AV)]),
    "ok_chain": devq_seed(4, descs=[(0, D(0), 16, 1, AV | NEXT), (1, D(16), 16, 1, AV | WR)]),
    "ok_full_ring": devq_seed(3, descs=[(s, D(s * 16), 16, s, AV) for s in range(3)]),
    "ok_indirect": devq_seed(4, table=[(D(0), 16, 0), (D(16), 16, WR)],
                             descs=[(0, BASE + ITAB_OFF, 32, 2, AV | IND)]),
    "ok_ops_view": devq_seed(4, cfg2=1, descs=[(0, D(0), 16, 0, AV | NEXT), (1, D(16), 8, 0, AV | WR)]),
    "ok_in_order_batched": devq_seed(8, cfg2=0x30, descs=[(s, D(s * 8), 8, s, AV | (WR if s & 1 else 0)) for s in range(8)]),
    "ok_event_idx": devq_seed(5, cfg2=0x02, drvev=struct.pack("<HH", 0x8002, 2),
                              descs=[(s, D(s * 8), 8, s, AV) for s in range(5)]),
    "ok_wrap_by_patches": devq_seed(
        3, descs=[(0, D(0), 8, 0, AV), (1, D(8), 8, 1, AV)],
        patches=patch_desc(2, D(16), 8, 2, AV | NEXT) + patch_desc(0, D(24), 8, 2, US)),
    "ok_legacy": devq_seed(4, cfg2=0x40, descs=[(0, D(0), 16, 0, AV)]),
    "enobufs_then_ok": devq_seed(4, rd_cap=1, descs=[(0, D(0), 8, 0, AV | NEXT), (1, D(8), 8, 0, AV)]),
    "wrong_wrap_in_list": devq_seed(4, descs=[(0, D(0), 16, 0, AV | NEXT), (1, D(16), 16, 0, US)]),
    "wrong_wrap_after_wrap": devq_seed(
        3, descs=[(0, D(0), 8, 0, AV), (1, D(8), 8, 1, AV)],
        patches=patch_desc(2, D(16), 8, 2, AV | NEXT) + patch_desc(0, D(24), 8, 2, AV)),
    "list_too_long": devq_seed(4, descs=[(s, D(s * 8), 8, 0, AV | NEXT) for s in range(4)]),
    "list_too_long_num1": devq_seed(1, descs=[(0, D(0), 8, 0, AV | NEXT)]),
    "id_range": devq_seed(4, descs=[(0, D(0), 8, 4, AV)]),
    "id_ffff": devq_seed(128, descs=[(0, D(0), 8, 0xffff, AV)]),
    "addr_outside": devq_seed(4, descs=[(0, BASE + 0x3000, 8, 0, AV)]),
    "addr_cross_end": devq_seed(4, descs=[(0, BASE + 0x2ff8, 16, 0, AV)]),
    "addr_wrap": devq_seed(4, descs=[(0, 0xfffffffffffffff0, 0x20, 0, AV)]),
    "rd_after_wr": devq_seed(4, descs=[(0, D(0), 8, 0, AV | WR | NEXT), (1, D(8), 8, 0, AV)]),
    "total_over_4g": devq_seed(4, descs=[(0, D(0), 0xffffffff, 0, AV | NEXT), (1, D(0), 0xffffffff, 0, AV)]),
    "indirect_not_negotiated": devq_seed(4, cfg2=0x04, table=[(D(0), 8, 0)],
                                         descs=[(0, BASE + ITAB_OFF, 16, 0, AV | IND)]),
    "indirect_and_next": devq_seed(4, table=[(D(0), 8, 0)],
                                   descs=[(0, BASE + ITAB_OFF, 16, 0, AV | IND | NEXT), (1, D(8), 8, 0, AV)]),
    "indirect_in_list": devq_seed(4, table=[(D(0), 8, 0)],
                                  descs=[(0, D(8), 8, 0, AV | NEXT), (1, BASE + ITAB_OFF, 16, 0, AV | IND)]),
    "indirect_nested": devq_seed(4, table=[(D(0), 8, 0), (BASE + ITAB_OFF, 32, IND)],
                                 descs=[(0, BASE + ITAB_OFF, 32, 0, AV | IND)]),
    "indirect_len_odd": devq_seed(4, descs=[(0, BASE + ITAB_OFF, 24, 0, AV | IND)]),
    "indirect_len0": devq_seed(4, descs=[(0, BASE + ITAB_OFF, 0, 0, AV | IND)]),
    "indirect_over_policy": devq_seed(4, cfg2=0x08, table=[(D(0), 8, 0)] * 5,
                                      descs=[(0, BASE + ITAB_OFF, 80, 0, AV | IND)]),
    "indirect_outside": devq_seed(4, descs=[(0, BASE + 0x2ff0, 64, 0, AV | IND)]),
    "indirect_rd_after_wr": devq_seed(4, table=[(D(0), 8, WR), (D(8), 8, 0)],
                                      descs=[(0, BASE + ITAB_OFF, 32, 0, AV | IND)]),
    "wr_points_at_ring": devq_seed(4, descs=[(0, BASE + DESC_OFF + 16, 32, 0, AV | WR)]),
    "overrun_slot": devq_seed(2, descs=[(0, D(0), 8, 0, AV), (1, D(8), 8, 1, AV)],
                              patches=patch_desc(0, D(0), 8, 0, US)),
}


def vq_prog(num, cfg2, *ops):
    out = bytes([(num - 1) % 64, cfg2])
    for op in ops:
        out += bytes(op)
    return out


def add(n):
    return [0, n]


def used(s, i, ln, fb):
    return [1, s, i & 0xff, i >> 8, ln & 0xff, ln >> 8, fb]


REAP = [2]
HON = 0x80 | 3  # honest position, AVAIL|USED of the device's lap


def sup(x):
    return [3, x]


VQ = {
    "ok_round_trip": vq_prog(4, 0, add(0x05), used(0, 0, 4, HON | 4 | (1 << 5)), REAP),
    "ok_many": vq_prog(5, 0, *([add(0x00), used(0, 0, 0, HON), REAP] * 12)),
    "ok_in_order_batch": vq_prog(8, 1, add(0), add(0), add(0), used(2, 0, 1, HON | (2 << 5)), REAP),
    "ok_indirect": vq_prog(4, 2, add(0x0b), used(0, 0, 5, HON | 4), REAP),
    "ok_event_idx": vq_prog(6, 4, sup(0), add(1), sup(3), sup(5 | 0x10), add(1), sup(1), used(0, 0, 0, HON), REAP, sup(0)),
    "id_out_of_range": vq_prog(4, 0, add(0), used(0, 4, 0, 3), REAP),
    "id_ffff": vq_prog(4, 0, add(0), used(0, 0xffff, 0, 3), REAP),
    "id_not_in_flight": vq_prog(8, 0, add(0), used(0, 5, 0, 3), REAP),
    "id_repeated": vq_prog(8, 0, add(0), add(0), used(0, 0, 0, HON), used(1, 0, 0, HON), REAP),
    "wrong_wrap": vq_prog(4, 0, add(0), used(0, 0, 0, 1), REAP, used(0, 0, 0, 2), REAP, used(0, 0, 0, 0), REAP),
    "len_too_big": vq_prog(4, 0, add(0x01), used(0, 0, 0xffff, 7), REAP),
    "in_order_out_of_order": vq_prog(8, 1, add(0), add(0), used(1, 0, 0, HON), REAP, used(1, 0, 0, HON), REAP),
    "in_order_mid_chain": vq_prog(8, 1, add(1), used(0, 1, 0, 3), REAP),
    "reserved_flags": vq_prog(4, 0, add(0), used(0, 0, 9, 3 | 8 | 16), REAP),
    "notif_data": vq_prog(3, 8, add(1), add(0), add(0), used(0, 0, 0, HON), REAP, add(1), REAP),
    # cfg2 bit 4: flaky DMA layer, every (2 + (cfg2 >> 5))-th map fails (CHECKLIST 3.15):
    # a 3-segment add fails on its 2nd map, a shorter one follows at the same head.
    "dma_map_fails_partway": vq_prog(8, 0x10, add(0x06), add(0x00), used(0, 0, 0, HON), REAP,
                                     add(0x06), add(0x06), used(0, 0, 4, HON | (2 << 5)), REAP),
    # IN_ORDER, num 4: the head at slot 3, a 4-segment add fails on its 2nd map (slot 0 of
    # the next lap), then a 1-segment add at slot 3 and its used descriptor.
    "dma_fail_straddles_wrap": vq_prog(4, 0x11 | (3 << 5), add(0), used(0, 0, 0, HON), REAP,
                                       add(0), used(1, 0, 0, HON), REAP, add(0), used(2, 0, 0, HON),
                                       REAP, add(0x07), add(0), used(3, 0, 0, HON), REAP, add(0x07),
                                       REAP),
    "dma_indirect_fails": vq_prog(8, 0x12 | (2 << 5), add(0x0b), add(0x0b), add(0x03),
                                  used(0, 0, 8, HON | 4), REAP, add(0x0b), REAP),
}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write("fuzz_devq_packed", DEVQ)
    write("fuzz_vq_packed", VQ)
