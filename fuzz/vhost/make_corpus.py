#!/usr/bin/env python3
"""Generate the seed corpus of fuzz_vhost_user_msg.

    python3 fuzz/vhost/make_corpus.py      # writes fuzz/vhost/corpus/fuzz_vhost_user_msg/

Record format (see fuzz_vhost_user_msg.c): t < 0x40 a message with t & 0xf
fds (memfds when t & 0x10, else eventfds), 12-byte header, payload;
0x40 a write into the shared 64 KiB memfd (u16 offset, u8 len, bytes);
0x80 kick every eventfd sent. Seeds: a clean negotiation, split and packed
rings with traffic (direct and indirect), a memory table replaced while a
ring runs, RESET_OWNER, and one input per malformed-message class. Files
named lf_* are libFuzzer finds (100 s run, 122k inputs, no crash), kept as
they are; this script does not write them.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus", "fuzz_vhost_user_msg")

GET_FEATURES, SET_FEATURES, SET_OWNER, RESET_OWNER, SET_MEM_TABLE = 1, 2, 3, 4, 5
SET_VRING_NUM, SET_VRING_ADDR, SET_VRING_BASE, GET_VRING_BASE = 8, 9, 10, 11
SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR = 12, 13, 14
GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES, GET_QUEUE_NUM, SET_VRING_ENABLE = 15, 16, 17, 18
GET_CONFIG, SET_CONFIG, RESET_DEVICE, SET_STATUS, GET_STATUS = 24, 25, 34, 39, 40
V1, PACKED, INDIRECT, EVENT_IDX, PROTO = 1 << 32, 1 << 34, 1 << 28, 1 << 29, 1 << 30
GPA, UA = 0x100000, 0x7F0000000000


def msg(req, payload=b"", fds=0, memfd=False, flags=1, size=None):
    t = fds | (0x10 if memfd else 0)
    n = len(payload) if size is None else size
    return bytes([t]) + struct.pack("<III", req, flags, n) + payload


def u64(req, v, **kw):
    return msg(req, struct.pack("<Q", v), **kw)


def state(req, idx, num):
    return msg(req, struct.pack("<II", idx, num))


def mem_table(regions, fds=None):
    p = struct.pack("<II", len(regions), 0)
    for r in regions:
        p += struct.pack("<QQQQ", *r)
    return msg(SET_MEM_TABLE, p, fds=len(regions) if fds is None else fds, memfd=True)


def addr(idx, desc, used, avail):
    return msg(SET_VRING_ADDR, struct.pack("<IIQQQQ", idx, 0, desc, used, avail, 0))


def vring_fd(req, idx, nofd=False):
    v = idx | (0x100 if nofd else 0)
    return u64(req, v, fds=0 if nofd else 1)


def poke(off, data):
    out = b""
    while data:
        chunk, data = data[:255], data[255:]
        out += bytes([0x40]) + struct.pack("<HB", off, len(chunk)) + chunk
        off += len(chunk)
    return out


KICK = bytes([0x80])
ONE_REGION = [(GPA, 65536, UA, 0)]


def setup(features, num=8, base=0, q=0):
    return (msg(SET_OWNER) + u64(SET_FEATURES, features) + mem_table(ONE_REGION) +
            state(SET_VRING_NUM, q, num) + state(SET_VRING_BASE, q, base) +
            addr(q, UA, UA + 0x1000, UA + 0x800) + vring_fd(SET_VRING_CALL, q) +
            vring_fd(SET_VRING_KICK, q))


def split_desc(a, ln, fl, nx):
    return struct.pack("<QIHH", a, ln, fl, nx)


def split_traffic(indirect=False):
    if indirect:
        table = split_desc(GPA + 0x2000, 64, 1, 1) + split_desc(GPA + 0x3000, 64, 2, 0)
        d = split_desc(GPA + 0x4000, len(table), 4, 0)
        mem = poke(0, d) + poke(0x4000, table)
    else:
        mem = poke(0, split_desc(GPA + 0x2000, 64, 1, 1) + split_desc(GPA + 0x3000, 64, 2, 0))
    avail = struct.pack("<HHH", 0, 1, 0)
    return mem + poke(0x2000, bytes(range(64))) + poke(0x800, avail) + KICK


def packed_traffic():
    AV = 1 << 7
    d0 = struct.pack("<QIHH", GPA + 0x2000, 64, 0, AV | 1)
    d1 = struct.pack("<QIHH", GPA + 0x3000, 64, 0, AV | 2)
    return poke(0x2000, bytes(range(64))) + poke(16, d1) + poke(0, d0) + KICK


def seeds():
    s = {}
    s["negotiate"] = (msg(GET_FEATURES) + msg(GET_PROTOCOL_FEATURES) +
                      u64(SET_PROTOCOL_FEATURES, (1 << 3) | (1 << 9) | (1 << 0) | (1 << 16)) +
                      msg(SET_OWNER) + u64(SET_FEATURES, V1 | EVENT_IDX | PROTO,
                                             flags=1 | 8) +
                      msg(GET_CONFIG, struct.pack("<III", 0, 16, 0) + bytes(16)) +
                      msg(GET_QUEUE_NUM) + u64(SET_STATUS, 11) + msg(GET_STATUS) +
                      msg(SET_CONFIG, struct.pack("<III", 0, 4, 0) + bytes(4), flags=9))
    s["split_direct"] = setup(V1) + split_traffic() + state(GET_VRING_BASE, 0, 0)
    s["split_indirect_evidx"] = setup(V1 | INDIRECT | EVENT_IDX) + split_traffic(True) + \
        state(GET_VRING_BASE, 0, 0)
    s["packed"] = setup(V1 | PACKED, base=0x80008000) + packed_traffic() + \
        state(GET_VRING_BASE, 0, 0)
    s["packed_enable"] = (u64(SET_PROTOCOL_FEATURES, 1 << 3) +
                          setup(V1 | PACKED | PROTO, num=5, base=0x8000) +
                          state(SET_VRING_ENABLE, 0, 1) + packed_traffic() +
                          state(SET_VRING_ENABLE, 0, 0) + state(GET_VRING_BASE, 0, 0))
    s["mem_replaced"] = setup(V1) + split_traffic() + mem_table(ONE_REGION) + \
        poke(0x800, struct.pack("<HHHH", 0, 2, 0, 0)) + KICK
    s["reset_owner"] = setup(V1) + split_traffic() + msg(RESET_OWNER) + setup(V1 | PACKED)
    s["restart"] = setup(V1) + split_traffic() + state(GET_VRING_BASE, 0, 0) + \
        vring_fd(SET_VRING_KICK, 0, nofd=True) + vring_fd(SET_VRING_ERR, 0)
    s["two_regions"] = (u64(SET_FEATURES, V1) +
                        mem_table([(GPA, 32768, UA, 0), (GPA + 32768, 32768, UA + 32768, 32768)]) +
                        state(SET_VRING_NUM, 1, 8) + addr(1, UA, UA + 0x1000, UA + 0x800) +
                        vring_fd(SET_VRING_KICK, 1) + split_traffic())
    # malformed, one per class
    s["bad_version"] = msg(GET_FEATURES, flags=2)
    s["bad_size"] = bytes([0]) + struct.pack("<III", SET_FEATURES, 1, 5000)
    s["bad_index"] = state(SET_VRING_NUM, 99, 8)
    s["bad_num"] = u64(SET_FEATURES, V1) + state(SET_VRING_NUM, 0, 100)
    s["bad_overlap"] = mem_table([(GPA, 65536, UA, 0), (GPA + 4096, 4096, UA + 0x100000, 0)])
    s["bad_fdcount"] = mem_table(ONE_REGION, fds=0)
    s["bad_too_big"] = mem_table([(GPA, 1 << 24, UA, 0)])
    s["bad_ring_addr"] = (u64(SET_FEATURES, V1) + mem_table(ONE_REGION) +
                          state(SET_VRING_NUM, 0, 8) + addr(0, UA + 0x100000, UA, UA) +
                          vring_fd(SET_VRING_KICK, 0))
    s["bad_kick_nofd"] = u64(SET_VRING_KICK, 0)
    s["bad_unknown"] = msg(99)
    s["bad_features"] = u64(SET_FEATURES, 1 << 60)
    s["bad_config"] = msg(GET_CONFIG, struct.pack("<III", 0, 8, 0) + bytes(4))
    s["bad_truncated"] = bytes([0]) + struct.pack("<III", SET_FEATURES, 1, 8) + b"\x01\x02"
    s["bad_avail_idx"] = setup(V1) + poke(0x800, struct.pack("<HH", 0, 50)) + KICK
    return s


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
