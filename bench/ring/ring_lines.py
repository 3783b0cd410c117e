#!/usr/bin/env python3
"""Count cache-line transfers between the two sides of a ring.

Reads ring_lines' stdout (area and marker addresses) and a valgrind lackey
memory trace of the same run (--trace-mem=yes), replays every load and store
that falls in the ring areas through a two-cache MESI model (one cache for
the driver's core, one for the device's), and prints per buffer and side:

  pull   reads of a line the other side holds modified (it must travel)
  inval  writes to a line the other side holds (its copy is invalidated;
         with the data when it was modified)
  lines  distinct ring lines the side touched, per buffer

Each pull or inval is one cross-core coherence transaction: on two cores
each costs roughly the core-to-core latency, which is what the two-thread
poll bench pays per buffer beyond its instructions.

Usage: ring_lines.py PROGRAM_STDOUT LACKEY_LOG [--json] [--label TEXT]
"""
import json
import sys

LINE = 64
I, S, M = 0, 1, 2
SIDES = ("driver", "device")


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    want_json = "--json" in argv
    label = ""
    if "--label" in argv:
        label = argv[argv.index("--label") + 1]
        args.remove(label)
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    areas = []
    markers = {}
    info = ""
    with open(args[0]) as f:
        for ln in f:
            w = ln.split()
            if not w:
                continue
            if w[0] == "area":
                areas.append((w[1], int(w[2], 16), int(w[3])))
            elif w[0] == "marker":
                markers[int(w[2], 16)] = int(w[1])
            elif w[0] == "layout":
                info = ln.strip()
    if not areas or len(markers) != 4:
        sys.stderr.write("ring_lines.py: no area/marker lines in %s\n" % args[0])
        return 1
    lo = min(a[1] for a in areas)
    hi = max(a[1] + a[2] for a in areas)

    def area_of(addr):
        for name, base, size in areas:
            if base <= addr < base + size:
                return name
        return None

    state = {}  # line -> [driver_state, device_state]
    side = 0
    measuring = False
    buffers = int(info.split("buffers")[1].split()[0]) if "buffers" in info else 1
    counts = {s: {"pull": 0, "inval": 0, "pull_by_area": {}, "inval_by_area": {}}
              for s in SIDES}
    touched = {s: set() for s in SIDES}
    lines_per_phase = {s: 0 for s in SIDES}
    phases = {s: 0 for s in SIDES}

    def end_phase():
        if measuring:
            lines_per_phase[SIDES[side]] += len(touched[SIDES[side]])
            phases[SIDES[side]] += 1
        touched[SIDES[side]].clear()

    with open(args[1], errors="replace") as f:
        for ln in f:
            if len(ln) < 4 or ln[0] != " ":
                continue
            kind = ln[1]
            if kind not in "LSM":
                continue
            comma = ln.find(",", 3)
            addr = int(ln[3:comma], 16)
            if addr in markers:
                m = markers[addr]
                if m < 2:
                    end_phase()
                    side = m
                elif m == 2:
                    measuring = True
                else:
                    end_phase()
                    measuring = False
                continue
            if addr < lo or addr >= hi:
                continue
            ar = area_of(addr)
            if ar is None:
                continue
            size = int(ln[comma + 1:])
            first = addr // LINE
            last = (addr + size - 1) // LINE
            for line in range(first, last + 1):
                st = state.setdefault(line, [I, I])
                me, other = side, 1 - side
                name = SIDES[me]
                if measuring:
                    touched[name].add(line)
                if kind in "LM":
                    if st[me] == I:
                        if st[other] == M:
                            if measuring:
                                counts[name]["pull"] += 1
                                d = counts[name]["pull_by_area"]
                                d[ar] = d.get(ar, 0) + 1
                            st[other] = S
                        st[me] = S
                if kind in "SM":
                    if st[me] != M:
                        if st[other] != I:
                            if measuring:
                                counts[name]["inval"] += 1
                                d = counts[name]["inval_by_area"]
                                d[ar] = d.get(ar, 0) + 1
                            st[other] = I
                        st[me] = M
    out = {"label": label, "run": info}
    total = 0
    for s in SIDES:
        c = counts[s]
        total += c["pull"] + c["inval"]
        out[s] = {
            "pull_per_buf": c["pull"] / buffers,
            "inval_per_buf": c["inval"] / buffers,
            "pull_by_area": {k: v / buffers for k, v in sorted(c["pull_by_area"].items())},
            "inval_by_area": {k: v / buffers for k, v in sorted(c["inval_by_area"].items())},
            "lines_per_buf": lines_per_phase[s] / buffers,
        }
    out["transfers_per_buf"] = total / buffers
    if want_json:
        print(json.dumps(out))
    else:
        print("%s%s" % (label + ": " if label else "", info))
        for s in SIDES:
            o = out[s]
            print("  %-6s pull %.3f  inval %.3f  lines %.3f per buffer   pull %s  inval %s" % (
                s, o["pull_per_buf"], o["inval_per_buf"], o["lines_per_buf"],
                " ".join("%s=%.3f" % kv for kv in o["pull_by_area"].items()) or "-",
                " ".join("%s=%.3f" % kv for kv in o["inval_by_area"].items()) or "-"))
        print("  transfers per buffer (both sides): %.3f" % out["transfers_per_buf"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
