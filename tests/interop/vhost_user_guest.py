#!/usr/bin/env python3
"""Guest pieces of the QEMU vhost-user interop tests.

  vhost_user_guest.py kernel
      print "KERNEL MODDIR" of the newest Debian kernel (/boot/vmlinuz-*
      with its /lib/modules/<version>)
  vhost_user_guest.py initramfs OUT.cpio.gz MODDIR MODULE...
      build a gzip'd newc initramfs: busybox-static as /bin/*, the guest
      init script as /init, MODULE... and every module they depend on
      (from MODDIR/modules.dep, decompressed when .ko.xz/.ko.zst/.ko.gz),
      in load order in /lib/modules/order
  vhost_user_guest.py results CONSOLE.LOG
      print the guest's "VTIO key=value" lines as one JSON object

Nothing binary is committed: the image is made from the installed packages
each time the test runs.
"""
import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def newest_kernel():
    best = None
    for name in os.listdir("/boot"):
        if not name.startswith("vmlinuz-"):
            continue
        ver = name[len("vmlinuz-"):]
        if not os.path.isdir("/lib/modules/" + ver):
            continue
        key = [int(x) if x.isdigit() else x for x in re.split(r"[.-]", ver)]
        key = [(0, x) if isinstance(x, int) else (1, x) for x in key]
        if best is None or key > best[0]:
            best = (key, "/boot/" + name, "/lib/modules/" + ver)
    if best is None:
        sys.exit("no /boot/vmlinuz-* with a /lib/modules directory (package linux-image-amd64)")
    return best[1], best[2]


def module_order(moddir, wanted):
    """Module paths (relative to moddir) in load order: dependencies first."""
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            if ":" not in line:
                continue
            mod, rest = line.split(":", 1)
            deps[mod.strip()] = rest.split()
    by_name = {}
    for path in deps:
        base = os.path.basename(path)
        base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base)
        by_name[base.replace("-", "_")] = path
    order, seen = [], set()

    def visit(path, stack):
        if path in seen:
            return
        if path in stack:
            sys.exit("dependency cycle at " + path)
        # modules.dep lists a module's dependencies, each with its own; load
        # every dependency (recursively) before the module itself.
        for d in deps.get(path, []):
            visit(d, stack + [path])
        seen.add(path)
        order.append(path)

    for name in wanted:
        key = name.replace("-", "_")
        if key not in by_name:
            sys.exit("module %s not in %s/modules.dep" % (name, moddir))
        visit(by_name[key], [])
    return order


def read_module(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".xz"):
        return lzma.decompress(data)
    if path.endswith(".gz"):
        return gzip.decompress(data)
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    return data


def has_interp(elf):
    """True when an ELF64 little-endian image has a PT_INTERP (is dynamic)."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2:
        return False
    phoff = int.from_bytes(elf[0x20:0x28], "little")
    phentsize = int.from_bytes(elf[0x36:0x38], "little")
    phnum = int.from_bytes(elf[0x38:0x3a], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(elf[off:off + 4], "little") == 3:
            return True
    return False


class Cpio:
    """newc archive writer (the format the kernel unpacks)."""

    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def _entry(self, name, mode, data=b"", nlink=1):
        name_b = name.encode() + b"\0"
        hdr = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name_b), 0)
        self.ino += 1
        self.out += hdr.encode() + name_b
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def dir(self, name):
        self._entry(name, 0o040755, nlink=2)

    def file(self, name, data, mode=0o100644):
        self._entry(name, mode, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor):
        name_b = name.encode() + b"\0"
        hdr = "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X" % (
            self.ino, 0o020600, 0, 0, 1, 0, 0, 0, 0, major, minor, len(name_b), 0)
        self.ino += 1
        self.out += hdr.encode() + name_b
        self.out += b"\0" * (-len(self.out) % 4)

    def finish(self):
        self._entry("TRAILER!!!", 0)
        return bytes(self.out)


def build_initramfs(out, moddir, modules):
    busybox = shutil.which("busybox") or "/bin/busybox"
    with open(busybox, "rb") as f:
        bb = f.read()
    if has_interp(bb):
        # The busybox package links dynamically; busybox-static does not.
        sys.exit("%s is dynamically linked: package busybox-static is needed" % busybox)
    applets = subprocess.run([busybox, "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    order = module_order(moddir, modules)
    c = Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.file("bin/busybox", bb, 0o100755)
    for a in applets:
        if a != "busybox" and "/" not in a:
            c.symlink("bin/" + a, "busybox")
    with open(os.path.join(HERE, "vhost_user_guest_init.sh"), "rb") as f:
        c.file("init", f.read(), 0o100755)
    names = []
    for rel in order:
        base = re.sub(r"\.(xz|zst|gz)$", "", os.path.basename(rel))
        c.file("lib/modules/" + base, read_module(os.path.join(moddir, rel)))
        names.append(base)
    c.file("lib/modules/order", ("\n".join(names) + "\n").encode())
    with open(out, "wb") as f:
        f.write(gzip.compress(c.finish(), 6))
    print(" ".join(names))


def results(log):
    res = {}
    with open(log, errors="replace") as f:
        for line in f:
            m = re.search(r"\bVTIO ([a-z0-9_]+)=(\S*)", line)
            if m:
                res[m.group(1)] = m.group(2)
    print(json.dumps(res, sort_keys=True))


def main(argv):
    if len(argv) >= 2 and argv[1] == "kernel":
        print("%s %s" % newest_kernel())
    elif len(argv) >= 5 and argv[1] == "initramfs":
        build_initramfs(argv[2], argv[3], argv[4:])
    elif len(argv) == 3 and argv[1] == "results":
        results(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
