#!/usr/bin/env python3
"""Interop: the library's virtio-mmio driver, in bare-metal firmware, against
QEMU's own virtio-mmio devices (virtio-blk-device, virtio-rng-device,
virtio-serial-device + virtconsole) on `-M virt`.

One run of this script is one ctest test: one architecture, one device, one
ring layout. It builds the firmware (tests/interop/fw, plain make from the
tree's sources.mk), then boots QEMU four times, once per feature variant:

  all      the device offers INDIRECT_DESC and EVENT_IDX, the driver accepts
           them; completions through the interrupt line
  devoff   the device refuses them (indirect_desc=off,event_idx=off);
           completions by polling the used ring
  drvoff   the device offers them, the driver refuses them (firmware
           arguments noindirect noeventidx); completions through the
           interrupt line
  ringreset  as "all" but polling, and the driver also accepts RING_RESET,
           resets the data queue after the device checks, re-enables it and
           uses it again; a device that offers RING_RESET and ignores the
           QueueReset register (QEMU 7.2's virtio-mmio) is recorded as a
           quirk, not failed

and checks, per boot: QEMU's exit status (the firmware leaves through
sifive_test or semihosting), every "VTIO check" line of the UART report,
the offered and negotiated feature words against what the variant implies
(RING_PACKED exactly in packed runs, INDIRECT_DESC / EVENT_IDX as the
variant says, VERSION_1 always), the queue counters (buffers that went
indirect, interrupts taken), and the host side: the disk image bytes after
the run (blk) and the console output file (con). docs/qemu-interop.md
describes the cases and the feature words observed.

Usage: qemu_mmio.py --arch rv64|rv32|aarch64 --device blk|rng|con
                    --layout split|packed
Environment (set by vtio_add_interop_test): VTIO_SOURCE_DIR, VTIO_INTEROP_DIR.
Exit: 0 pass, 1 fail, 77 skip (a Debian package cannot be installed).
"""
import argparse
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import sys
import time

F_INDIRECT_DESC = 28
F_EVENT_IDX = 29
F_VERSION_1 = 32
F_RING_PACKED = 34
F_RING_RESET = 40
BLK_F_FLUSH = 9

SECTOR = 512
DISK_SECTORS = 64
KNOWN_FIRST, KNOWN_COUNT, SEED_HOST = 0, 8, 0x11  # same layout as fw_main.c
WRITE_FIRST, WRITE_COUNT, SEED_FW = 16, 8, 0x22
BLK_SERIAL = "VTIOFW01"

ARCHES = {
    # packages, qemu binary, machine options, cross prefix for nm
    "rv64": (["qemu-system-misc", "gcc-riscv64-unknown-elf", "make"],
             "qemu-system-riscv64", ["-M", "virt", "-bios", "none"],
             "riscv64-unknown-elf-"),
    "rv32": (["qemu-system-misc", "gcc-riscv64-unknown-elf", "make"],
             "qemu-system-riscv32", ["-M", "virt", "-bios", "none"],
             "riscv64-unknown-elf-"),
    "aarch64": (["qemu-system-arm", "gcc-aarch64-linux-gnu", "make"],
                "qemu-system-aarch64",
                ["-M", "virt", "-cpu", "cortex-a53", "-semihosting"],
                "aarch64-linux-gnu-"),
}

DEVICES = {"blk": "virtio-blk-device", "rng": "virtio-rng-device",
           "con": "virtio-serial-device"}

# (name, device properties, firmware arguments ("irq": interrupt mode),
#  device offers INDIRECT_DESC/EVENT_IDX?, driver accepts them?)
VARIANTS = [
    ("all", "", "irq", True, True),
    ("devoff", "indirect_desc=off,event_idx=off", "", False, True),
    ("drvoff", "", "noindirect noeventidx irq", True, False),
    ("ringreset", "", "ringreset", True, True),
]

QEMU_TIMEOUT = 60  # seconds per boot; a boot takes well under one


def log(msg):
    print(msg, flush=True)


def pattern(seed, sector, i):
    x = (((sector << 16) | i) * 2654435761 + seed) & 0xffffffff
    return x >> 24


def sectors(seed, first, count):
    return bytes(pattern(seed, s, i) for s in range(first, first + count)
                 for i in range(SECTOR))


def deps(src, packages):
    r = subprocess.run([os.path.join(src, "scripts", "interop-deps.sh")] + packages)
    if r.returncode == 77:
        sys.exit(77)
    if r.returncode != 0:
        log("FAIL: scripts/interop-deps.sh %s exited %d" % (" ".join(packages), r.returncode))
        sys.exit(1)


def build(src, work, arch):
    """Build the firmware once per architecture (tests run in parallel: the
    first one builds under a lock, the others find it up to date)."""
    out = os.path.join(work, "qemu_mmio_fw", arch)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        t0 = time.monotonic()
        r = subprocess.run(["make", "-s", "-j2", "-C", os.path.join(src, "tests", "interop", "fw"),
                            "TARGET=" + arch, "VTIO_ROOT=" + src, "OUT=" + out],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        dt = time.monotonic() - t0
    if r.returncode != 0:
        log(r.stdout)
        log("FAIL: the %s firmware does not build (make exited %d)" % (arch, r.returncode))
        sys.exit(1)
    log("firmware %s: built or up to date in %.1f s" % (arch, dt))
    return os.path.join(out, "qemu_fw.elf")


def symbol(cross, elf, name):
    r = subprocess.run([cross + "nm", elf], stdout=subprocess.PIPE, text=True, check=True)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == name:
            return int(f[0], 16)
    raise SystemExit("FAIL: symbol %s not in %s" % (name, elf))


_term = {"hold": False, "pending": False}


def on_sigterm(*_):
    """ctest's timeout sends SIGTERM (and ^C SIGINT): unwind so run_qemu() kills and reaps
    QEMU (deferred while a QEMU is being started)."""
    if _term["hold"]:
        _term["pending"] = True
    else:
        sys.exit(143)


def console_peer(p, sock_path, send):
    """The host end of the console: connect to QEMU's socket chardev (QEMU
    waits for it before starting the guest), send one line, then collect
    what the guest writes until QEMU exits and closes the socket."""
    deadline = time.monotonic() + QEMU_TIMEOUT
    while not os.path.exists(sock_path):
        if p.poll() is not None or time.monotonic() > deadline:
            return b"(QEMU never opened the console socket)"
        time.sleep(0.05)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.settimeout(max(1.0, deadline - time.monotonic()))
    got = b""
    try:
        c.connect(sock_path)
        c.sendall(send)
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += d
    except OSError as e:
        got += ("(console socket: %s)" % e).encode()
    finally:
        c.close()
    return got


def run_qemu(cmd, report_path, console=None):
    """Run QEMU under timeout in its own process group; always reaped.
    console: (socket path, bytes to send) for the console peer."""
    out = None
    with open(report_path, "w") as rep:
        # A SIGTERM inside Popen() would lose the child: hold it until p exists.
        _term["hold"] = True
        try:
            p = subprocess.Popen(["timeout", "-k", "5", str(QEMU_TIMEOUT)] + cmd, stdin=subprocess.DEVNULL,
                                 stdout=rep, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            _term["hold"] = False
        try:
            if _term["pending"]:
                sys.exit(143)
            if console:
                out = console_peer(p, *console)
            rc = p.wait(timeout=QEMU_TIMEOUT + 15)
        except BaseException:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            raise
    with open(report_path, errors="replace") as f:
        return rc, f.read().replace("\r", ""), out


def bits(v):
    return ",".join(str(b) for b in range(64) if v >> b & 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=sorted(ARCHES), required=True)
    ap.add_argument("--device", choices=sorted(DEVICES), required=True)
    ap.add_argument("--layout", choices=["split", "packed"], required=True)
    a = ap.parse_args()

    src = os.environ.get("VTIO_SOURCE_DIR") or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", ".."))
    work_root = os.environ.get("VTIO_INTEROP_DIR") or os.path.join(src, "build", "interop")
    name = "qemu_mmio_%s_%s_%s" % (a.arch, a.device, a.layout)
    work = os.path.join(work_root, name)
    os.makedirs(work, exist_ok=True)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)

    packages, qemu, machine, cross = ARCHES[a.arch]
    deps(src, packages)
    elf = build(src, work_root, a.arch)
    args_addr = symbol(cross, elf, "fw_args")
    packed = a.layout == "packed"

    failures = []

    def expect(cond, what):
        if not cond:
            failures.append("%s: %s" % (variant, what))
            log("  FAIL " + what)
        return cond

    for variant, props, fwargs, irq, dev_offers, drv_accepts in [
            (v[0], v[1], v[2], "irq" in v[2].split(), v[3], v[4]) for v in VARIANTS]:
        vdir = os.path.join(work, variant)
        os.makedirs(vdir, exist_ok=True)
        argtext = (a.device + " " + fwargs).strip()
        args_file = os.path.join(vdir, "args.txt")
        with open(args_file, "w") as f:
            f.write(argtext + "\n")
        dprops = ["packed=" + ("on" if packed else "off")]
        if props:
            dprops.append(props)
        cmd = [qemu] + machine + ["-m", "64M", "-nographic", "-serial", "stdio", "-monitor", "none",
                                  "-kernel", elf, "-global", "virtio-mmio.force-legacy=false",
                                  "-device", "loader,file=%s,addr=0x%x,force-raw=on" % (args_file, args_addr)]
        disk = os.path.join(vdir, "disk.img")
        con_out = os.path.join(vdir, "console.out")
        if a.device == "blk":
            img = bytearray(DISK_SECTORS * SECTOR)
            img[KNOWN_FIRST * SECTOR:(KNOWN_FIRST + KNOWN_COUNT) * SECTOR] = sectors(SEED_HOST, KNOWN_FIRST, KNOWN_COUNT)
            with open(disk, "wb") as f:
                f.write(img)
            cmd += ["-drive", "file=%s,format=raw,if=none,id=d0,cache=writeback" % disk,
                    "-device", ",".join(["virtio-blk-device", "drive=d0", "serial=" + BLK_SERIAL] + dprops)]
        elif a.device == "rng":
            cmd += ["-device", ",".join(["virtio-rng-device"] + dprops)]
        console = None
        if a.device == "con":
            # A short private path: UNIX socket names are limited to 108 bytes.
            sockdir = tempfile.mkdtemp(prefix="vtio-con-")
            sock = os.path.join(sockdir, "c0")
            console = (sock, ("VTIOHOST %s %s\n" % (a.arch, argtext)).encode())
            cmd += ["-device", ",".join(["virtio-serial-device"] + dprops),
                    "-chardev", "socket,id=c0,path=%s,server=on,wait=on" % sock,
                    "-device", "virtconsole,chardev=c0"]

        log("== %s %s (%s): %s" % (name, variant, argtext, " ".join(cmd)))
        try:
            rc, rep, con_got = run_qemu(cmd, os.path.join(vdir, "uart.log"), console)
        finally:
            if console:
                shutil.rmtree(sockdir, ignore_errors=True)
        if con_got is not None:
            with open(con_out, "wb") as f:
                f.write(con_got)
        for line in rep.splitlines():
            if line.startswith("VTIO") and " check " not in line or " FAIL" in line:
                log("  | " + line)
        expect(rc == 0, "QEMU exit status %d (0 = the firmware passed every check)" % rc)
        expect("VTIO result pass" in rep, "no 'VTIO result pass' in the UART report")
        bad = [l for l in rep.splitlines() if l.startswith("VTIO check") and not l.endswith(" ok")]
        expect(not bad, "failed checks: %s" % bad)

        m = re.search(r"VTIO dev=%s slot=\d+ offered=0x([0-9a-f]+) negotiated=0x([0-9a-f]+) "
                      r"layout=(\w+) irq=(\d)" % a.device, rep)
        if not expect(m, "no feature line for %s in the report" % a.device):
            continue
        offered, neg = int(m.group(1), 16), int(m.group(2), 16)
        log("  features: offered 0x%016x (bits %s) negotiated 0x%016x (bits %s)"
            % (offered, bits(offered), neg, bits(neg)))

        def has(v, b):
            return bool(v >> b & 1)

        expect(has(offered, F_VERSION_1) and has(neg, F_VERSION_1), "VERSION_1 offered and negotiated")
        expect(has(offered, F_RING_PACKED) == packed, "RING_PACKED offered exactly in packed runs")
        expect(has(neg, F_RING_PACKED) == packed, "RING_PACKED negotiated exactly in packed runs")
        expect(m.group(3) == a.layout, "firmware used the %s layout (says %s)" % (a.layout, m.group(3)))
        expect(m.group(4) == ("1" if irq else "0"), "interrupt mode as asked")
        for b, n in ((F_INDIRECT_DESC, "INDIRECT_DESC"), (F_EVENT_IDX, "EVENT_IDX")):
            expect(has(offered, b) == dev_offers, "%s offered: %s" % (n, dev_offers))
            expect(has(neg, b) == (dev_offers and drv_accepts),
                   "%s negotiated: %s" % (n, dev_offers and drv_accepts))
        expect(neg & ~offered == 0, "negotiated a subset of offered")
        ring_reset_ok = None
        if "ringreset" in fwargs.split():
            expect(has(neg, F_RING_RESET), "RING_RESET negotiated (QEMU offers it by default)")
            if "VTIO quirk ring-reset-ignored" in rep:
                ring_reset_ok = False
                log("  quirk recorded: the device offered RING_RESET and ignored QueueReset "
                    "(QueueReady stayed 1); see docs/qemu-interop.md")
            else:
                ring_reset_ok = expect("VTIO check ring-reset ok" in rep and
                                       "VTIO check ring-reset-reattach ok" in rep,
                                       "queue reset and re-enable ran and passed")
                log("  queue reset (RING_RESET) worked and the queue was used again")

        stats = {int(q): dict(kv.split("=") for kv in rest.split())
                 for q, rest in re.findall(r"VTIO stats q=(\d+) (.*)", rep)}
        qdata = 1 if a.device == "con" else 0
        st = stats.get(qdata)
        if expect(st is not None, "queue %d counters in the report" % qdata):
            ind = int(st["indirect"])
            expect((ind > 0) == has(neg, F_INDIRECT_DESC),
                   "buffers went indirect (%d) exactly when INDIRECT_DESC was negotiated" % ind)
            expect(int(st["added"]) == int(st["used"]) > 0, "every buffer added came back used")
            expect((int(st["vq_irqs"]) > 0) == irq,
                   "used-buffer interrupts (%s) exactly in interrupt mode" % st["vq_irqs"])

        if a.device == "blk":
            for c in ("blk-capacity", "blk-read-known", "blk-write", "blk-readback", "blk-get-id",
                      "blk-read-past-end-ioerr", "blk-flush"):
                expect("VTIO check %s ok" % c in rep, "check %s ran and passed" % c)
            expect(has(neg, BLK_F_FLUSH), "FLUSH negotiated (QEMU offers it by default)")
            expect("VTIO blk capacity=%d" % DISK_SECTORS in rep, "capacity %d sectors" % DISK_SECTORS)
            expect("VTIO blk id=%s" % BLK_SERIAL in rep, "GET_ID returned the drive serial")
            with open(disk, "rb") as f:
                got = f.read()
            want = bytearray(DISK_SECTORS * SECTOR)
            want[KNOWN_FIRST * SECTOR:(KNOWN_FIRST + KNOWN_COUNT) * SECTOR] = sectors(SEED_HOST, KNOWN_FIRST, KNOWN_COUNT)
            want[WRITE_FIRST * SECTOR:(WRITE_FIRST + WRITE_COUNT) * SECTOR] = sectors(SEED_FW, WRITE_FIRST, WRITE_COUNT)
            diff = [i // SECTOR for i in range(len(want)) if i < len(got) and got[i] != want[i]]
            expect(len(got) == len(want) and not diff,
                   "host image bytes: %d bytes, sectors differing: %s" % (len(got), sorted(set(diff))))
        elif a.device == "rng":
            expect(rep.count("VTIO check rng-length ok") == 2, "two rounds of entropy of the right length")
            expect(rep.count("VTIO check rng-not-all-equal ok") == 2, "entropy bytes not all equal")
        else:
            for c in ("con-tx", "con-rx", "con-echo"):
                expect("VTIO check %s ok" % c in rep, "check %s ran and passed" % c)
            m2 = re.search(r"VTIO con rx fills=(\d+) bytes=(\d+)", rep)
            expect(m2 and int(m2.group(1)) >= 2,
                   "the host line filled several receive buffers (%s)" % (m2 and m2.group(1)))
            want = ("VTIOCON 1 %s %s\nVTIOCON 2 %s abcdefghij0123456789\nVTIOCON echo VTIOHOST %s %s\n"
                    % (a.arch, argtext, a.arch, a.arch, argtext))
            if ring_reset_ok:
                want += "VTIOCON 3 %s after ring reset\n" % a.arch
            try:
                with open(con_out) as f:
                    got = f.read()
            except OSError as e:
                got = "(%s)" % e
            expect(got == want, "console output file: want %r, got %r" % (want, got))

    if failures:
        log("FAIL %s: %d problem(s):\n  %s" % (name, len(failures), "\n  ".join(failures)))
        return 1
    log("PASS %s: %d variants" % (name, len(VARIANTS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
