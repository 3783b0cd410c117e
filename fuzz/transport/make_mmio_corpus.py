#!/usr/bin/env python3
"""Generate the seed corpora of the virtio-mmio fuzz targets.

    python3 fuzz/transport/make_mmio_corpus.py   # writes fuzz/transport/corpus/fuzz_mmio_*/

fuzz_mmio_dev: [offer selector u32][op ...]... (see fuzz_mmio_dev.c): seeds
  bring the register model up the way a driver does (status, feature words,
  two queues, DRIVER_OK), put split traffic in the rings, kick, serve and
  ack, plus hostile accesses (bad widths, gaps, legacy registers).
fuzz_mmio_drv: [mode][control byte per register read]...: the empty input is
  a well-behaved device; seeds break the probe (magic, legacy, placeholder,
  bus error) or perturb random reads.
The fz_* files beside them are inputs libFuzzer found (a sample of the merged
corpus of a 4-minute run per target); this script leaves them alone.
"""
import os
import random
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BASE = 0x40000000


def u16(v):
    return list(struct.pack('<H', v & 0xffff))


def u32(v):
    return list(struct.pack('<I', v & 0xffffffff))


def write(target, name, data):
    d = os.path.join(HERE, 'corpus', target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(bytes(data))


def dev_init(word1, packed=False):
    # offer selector: bits 24+n of the offer (fuzz_mmio_dev masks them)
    sel = (1 << 4) | (1 << 5) | (1 << 16) | (1 << 14) | ((1 << 10) if packed else 0)
    b = u32(sel)
    b += [4, 1, 4, 3]                 # ACKNOWLEDGE, DRIVER
    b += [5, 0] + u32(0x3f)           # feature word 0
    b += [5, 1] + u32(1 | word1)      # word 1: VERSION_1 | ...
    b += [4, 0xb]                     # FEATURES_OK
    for q in range(2):                # queue q: 16 entries in its own 16 KiB
        b += [6, q, 16]
        for off in (q * 0x4000, 0, q * 0x4000 + 0x1000, 0, q * 0x4000 + 0x2000, 0):
            b += [0] + u16(off)
        b += [1]                      # QueueReady = 1
    b += [4, 0xf]                     # DRIVER_OK
    return b


def split_traffic():
    desc = struct.pack('<QIHH', BASE + 0x8000, 32, 1, 1) + struct.pack('<QIHH', BASE + 0x8100, 32, 2, 0)
    avail = struct.pack('<HHH', 0, 1, 0)
    b = [7] + u16(0) + [len(desc)] + list(desc)
    b += [7] + u16(0x1000) + [len(avail)] + list(avail)
    b += [8, 0, 0]                    # kick queue 0
    b += [10, 0, 1]                   # serve queue 0
    b += [1, 0x60 // 4]               # read InterruptStatus
    b += [9] + u32(1)                 # ack
    return b


def dev_corpus():
    t = 'fuzz_mmio_dev'
    write(t, 'empty', [])
    write(t, 'init_split', dev_init(0))
    write(t, 'init_split_traffic', dev_init(0) + split_traffic())
    write(t, 'init_packed', dev_init(0x4, packed=True))
    write(t, 'queue_reset', dev_init(0x100) + split_traffic() + [0, 0xc0 // 4] + u32(1) + [4, 0])
    write(t, 'config_ops', dev_init(0) + [13, 4, 1, 1] + u32(0xdeadbeef) + [13, 4, 2, 0] +
          [11, 1, 2, 3, 4, 8, 4] + [9] + u32(2))
    write(t, 'bad_accesses', [0, 0, 0, 0] + [2, 0] + u16(0x28) + [0] + [3, 1] + u32(0xfffffffc) +
          [5] + u32(1) + [2, 0] + u16(0x101) + [6] + [12])
    rnd = random.Random(7)
    for i in range(6):
        packed = bool(i & 1)
        write(t, 'random_%d' % i, dev_init(0x4 if packed else 0, packed) +
              [rnd.getrandbits(8) for _ in range(rnd.randint(50, 400))])


def drv_corpus():
    t = 'fuzz_mmio_drv'
    write(t, 'happy_split', [0])
    write(t, 'happy_packed', [1])
    write(t, 'bad_magic', [0, 1] + u32(0x12345678))
    write(t, 'legacy_v1', [0, 0, 1] + u32(1))
    write(t, 'placeholder', [0, 0, 0, 1] + u32(0))
    write(t, 'bus_error_probe', [0, 0, 7])
    rnd = random.Random(10)
    for i in range(8):
        b = [i & 1]
        for _ in range(rnd.randint(10, 200)):
            r = rnd.random()
            if r < 0.85:
                b.append(0)
            elif r < 0.92:
                b += [1] + u32(rnd.choice([0, 1, 0xffffffff, 0x8000, 2, 64, rnd.getrandbits(32)]))
            else:
                b.append(rnd.choice([2, 3, 7]) | (rnd.randint(0, 31) << 3))
        write(t, 'perturbed_%d' % i, b)


if __name__ == '__main__':
    dev_corpus()
    drv_corpus()
