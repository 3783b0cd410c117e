#!/usr/bin/env python3
"""Write the seed corpus of fuzz_msgq_decode: one valid message of every
type (requests and responses), a few near misses, and whole sessions."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "corpus", "fuzz_msgq_decode")
os.makedirs(out, exist_ok=True)


def msg(t, seq, body):
    return struct.pack("<BBHI", 1, t, 8 + len(body), seq) + body


R = 0x80
reqs = {
    "hello": msg(1, 1, struct.pack("<I", 272)),
    "reg_read": msg(2, 2, struct.pack("<IB3x", 0x70, 4)),
    "reg_write": msg(3, 3, struct.pack("<IB3xI", 0x70, 4, 1)),
    "reg_write_byte": msg(3, 3, struct.pack("<IB3xI", 0x101, 1, 0x5a)),
    "config_read": msg(4, 4, struct.pack("<IH2x", 0, 8)),
    "config_write": msg(5, 5, struct.pack("<IH2x", 2, 3) + b"abc"),
    "get_status": msg(6, 6, b""),
    "set_status": msg(7, 7, struct.pack("<B3x", 3)),
    "get_features": msg(8, 8, struct.pack("<I", 1)),
    "set_features": msg(9, 9, struct.pack("<II", 1, 1)),
    "queue_setup": msg(10, 10, struct.pack("<HHIQQQ", 0, 1, 256, 0x1000, 0x2000, 0x3000)),
    "queue_info": msg(11, 11, struct.pack("<H2x", 0)),
    "notify": msg(32, 12, struct.pack("<I", 0)),
    "event": msg(33, 13, struct.pack("<I", 1)),
    "resp_hello": msg(1 | R, 1, struct.pack("<iI", 0, 272)),
    "resp_reg_read": msg(2 | R, 2, struct.pack("<iI", 0, 0x74726976)),
    "resp_error": msg(3 | R, 3, struct.pack("<i", -34)),
    "resp_config_read": msg(4 | R, 4, struct.pack("<i", 0) + b"12345678"),
    "resp_status": msg(6 | R, 6, struct.pack("<iB3x", 0, 15)),
    "resp_queue_info": msg(11 | R, 11, struct.pack("<iII", 0, 256, 1)),
    # near misses
    "bad_version": b"\x02" + msg(6, 1, b"")[1:],
    "bad_length": msg(6, 1, b"")[:2] + b"\x09\x00" + msg(6, 1, b"")[4:] + b"\x00",
    "bad_width": msg(2, 2, struct.pack("<IB3x", 0x70, 3)),
    "bad_align": msg(2, 2, struct.pack("<IB3x", 0x72, 4)),
    "bad_rsvd": msg(7, 7, struct.pack("<B3B", 3, 0, 1, 0)),
    "bad_value": msg(3, 3, struct.pack("<IB3xI", 0x101, 1, 0x100)),
    "bad_word": msg(8, 8, struct.pack("<I", 9)),
    "bad_qflags": msg(10, 10, struct.pack("<HHIQQQ", 0, 2, 256, 0, 0, 0)),
    "bad_config_len": msg(4, 4, struct.pack("<IH2x", 0, 0)),
    "bad_config_wlen": msg(5, 5, struct.pack("<IH2x", 0, 4) + b"abc"),
    "bad_result": msg(3 | R, 3, struct.pack("<i", 5)),
    "bad_type": msg(0x40, 1, b""),
    "config_range_wrap": msg(4, 4, struct.pack("<IH2x", 0xffffffff, 8)),
}
for name, data in reqs.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

session = b"".join(reqs[k] for k in (
    "hello", "reg_read", "set_status", "get_features", "set_features",
    "queue_info", "queue_setup", "config_read", "config_write", "notify",
    "get_status"))
with open(os.path.join(out, "session"), "wb") as f:
    f.write(session)
with open(os.path.join(out, "session_with_garbage"), "wb") as f:
    f.write(reqs["hello"] + reqs["bad_rsvd"] + reqs["set_status"] + b"\x01\x07")
