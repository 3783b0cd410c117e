#!/usr/bin/env bash
# Freestanding firmware builds of the portable core:
#  1. sources.mk is current with the CMake source lists;
#  2. for Cortex-M0+, Cortex-M4, RV32IMAC and RV64IMAC, in the full
#     configuration and the smallest one (split, driver only, no indirect,
#     event idx, DMA or bounce), the bare-metal example builds with plain make
#     from sources.mk (-ffreestanding -Os, the example's port header);
#  3. its core objects reference no symbol the port layer does not name
#     (scripts/check-freestanding.sh --objs: memcpy/memset/memmove and
#     libgcc's integer helpers only);
#  4. it links (-nostdlib, own startup and linker script, -lgcc): no
#     undefined symbol survives a real link.
# Usage: scripts/cross-firmware.sh   (after scripts/cross-setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

scripts/cross-sources.sh --check

declare -A prefix=([cortex-m0plus]=arm-none-eabi- [cortex-m4]=arm-none-eabi-
  [rv32imac]=riscv64-unknown-elf- [rv64imac]=riscv64-unknown-elf-)
cfg_min="-DVTIO_CONFIG_PACKED=0 -DVTIO_CONFIG_DEVICE=0 -DVTIO_CONFIG_INDIRECT=0 -DVTIO_CONFIG_EVENT_IDX=0 -DVTIO_CONFIG_DMA=0 -DVTIO_CONFIG_BOUNCE=0"
fail=0
for t in cortex-m0plus cortex-m4 rv32imac rv64imac; do
  for c in full min; do
    vc=""
    [ $c = min ] && vc=$cfg_min
    o="$out/$t-$c"
    if ! make -s -j"$jobs" -C examples/baremetal TARGET="$t" OUT="$o" VTIO_CFLAGS="$vc" >"$o.log" 2>&1; then
      cat "$o.log" >&2
      # Tell a compile error from a link error: the link needs every object.
      echo "cross-firmware: the example does not build or link for $t ($c configuration)" >&2
      fail=1
      continue
    fi
    mapfile -t objs < <(find "$o/vtio" -name '*.o' | sort)
    printf 'cross-firmware: %s (%s): ' "$t" "$c"
    scripts/check-freestanding.sh --objs "${prefix[$t]}nm" "${objs[@]}" || fail=1
    echo "cross-firmware: example links for $t ($c): $("${prefix[$t]}size" "$o/vtio_fw.elf" | awk 'NR==2 {print "text " $1 ", data " $2 ", bss " $3}')"
  done
done
exit $fail
