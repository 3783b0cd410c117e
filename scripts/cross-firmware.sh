#!/usr/bin/env bash
# Freestanding firmware builds of the portable core:
#  1. sources.mk is current with the CMake source lists;
#  2. every core file compiles freestanding (-Os, no libc) for Cortex-M0+,
#     Cortex-M4, RV32IMAC and RV64IMAC, in the full configuration and the
#     smallest one, with the example's port configuration header, and
#     references no symbol the port layer does not name
#     (scripts/check-freestanding.sh: memcpy/memset/memmove + libgcc helpers);
#  3. the bare-metal example links for each target from sources.mk with plain
#     make (-nostdlib, own startup and linker script, -lgcc): no undefined
#     symbol survives a real link.
# Usage: scripts/cross-firmware.sh   (after scripts/cross-setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

scripts/cross-sources.sh --check

declare -A tflags=(
  [cortex-m0plus]="arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb"
  [cortex-m4]="arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb"
  [rv32imac]="riscv64-unknown-elf-gcc -march=rv32imac -mabi=ilp32"
  [rv64imac]="riscv64-unknown-elf-gcc -march=rv64imac -mabi=lp64 -mcmodel=medany"
)
cfg_min="-DVTIO_CONFIG_PACKED=0 -DVTIO_CONFIG_DEVICE=0 -DVTIO_CONFIG_INDIRECT=0 -DVTIO_CONFIG_EVENT_IDX=0 -DVTIO_CONFIG_DMA=0 -DVTIO_CONFIG_BOUNCE=0"
fwcfg=(-DVTIO_CONFIG_FILE='"vtio_config_fw.h"' -Iexamples/baremetal)
fail=0
for t in cortex-m0plus cortex-m4 rv32imac rv64imac; do
  # shellcheck disable=SC2086
  scripts/check-freestanding.sh ${tflags[$t]} "${fwcfg[@]}" || fail=1
  # The smallest configuration: undefined symbols here mean a module calls
  # one that the options compiled out. Reported; fatal with VTIO_FW_STRICT=1
  # (the example below still has to link in that configuration).
  # shellcheck disable=SC2086
  if ! scripts/check-freestanding.sh ${tflags[$t]} "${fwcfg[@]}" $cfg_min; then
    echo "cross-firmware: WARNING: $t smallest configuration leaves references to compiled-out code (see above)" >&2
    [ "${VTIO_FW_STRICT:-0}" = 1 ] && fail=1
  fi
  for c in full min; do
    vc=""
    [ $c = min ] && vc=$cfg_min
    if make -s -j"$jobs" -C examples/baremetal TARGET="$t" OUT="$out/$t-$c" VTIO_CFLAGS="$vc" >"$out/$t-$c.log" 2>&1; then
      echo "cross-firmware: example links for $t ($c): $(${tflags[$t]%%-gcc*}-size "$out/$t-$c/vtio_fw.elf" | awk 'NR==2 {print "text " $1 ", data " $2 ", bss " $3}')"
    else
      cat "$out/$t-$c.log" >&2
      echo "cross-firmware: example does not link for $t ($c configuration)" >&2
      fail=1
    fi
  done
done
exit $fail
