#!/usr/bin/env bash
# Compile the portable core freestanding (no libc headers beyond the
# freestanding ones, no libc at link) and fail on any undefined symbol the
# port layer does not name.
#
# Usage: scripts/check-freestanding.sh [CC] [extra CFLAGS...]
#   CC: gcc, clang, or a cross compiler (arm-none-eabi-gcc,
#   riscv64-unknown-elf-gcc, ...); NM defaults to the matching <prefix>nm.
#   Extra flags pick the target and the configuration, e.g.
#   -mcpu=cortex-m4 -mthumb -DVTIO_CONFIG_PACKED=0
#   -DVTIO_CONFIG_FILE='"vtio_config_fw.h"' -Iexamples/baremetal
#
# Symbols a core object may leave undefined:
#   - memcpy, memset, memmove: named by port.h (VTIO_MEMCPY/...; compilers
#     also emit them for struct copies); firmware supplies them.
#   - libgcc's integer helpers (division, 64-bit shifts/multiply on 32-bit
#     cores, bit counting, Thumb-1 switch tables): libgcc is part of the
#     compiler, not of a C library, and GCC requires it even freestanding
#     (GCC manual, "Standards": -ffreestanding still needs libgcc). Link with
#     -lgcc (the bare-metal example does, with -nostdlib).
# Anything else fails: C library calls, floating point helpers, and
# __atomic_*/__sync_* library calls (libatomic is not a freestanding
# library: a core without atomic instructions, e.g. Cortex-M0+, must
# override the port hooks instead; see docs/porting.md).
#
# scripts/check-freestanding.sh --objs <nm> <objects...> runs the same symbol
# check on objects already built (e.g. by the bare-metal example's Makefile).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [ "${1:-}" = --objs ]; then
  NM=$2
  shift 2
  [ $# -gt 0 ] || { echo "check-freestanding: --objs needs objects" >&2; exit 1; }
  i=0
  for o in "$@"; do cp "$o" "$out/$i-$(basename "$o")"; i=$((i + 1)); done
  srcs=("$@")
  cc="$NM"
  set --
  prebuilt=1
else
  prebuilt=0
  cc=${1:-cc}
  shift || true
fi
# The list the CMake build uses (src/sources.cmake and src/*/sources.cmake).
[ $prebuilt = 1 ] || mapfile -t srcs < <(cmake -P scripts/core-sources.cmake)
[ ${#srcs[@]} -gt 0 ] || { echo "check-freestanding: no core sources found" >&2; exit 1; }
allowed='^(memcpy|memset|memmove)$'
libgcc='^(__aeabi_(u?idiv|u?idivmod|u?ldivmod|llsl|llsr|lasr|lmul|u?lcmp)|__gnu_thumb1_case_[a-z]+|__(u?div|u?mod|mul)[sd]i3|__u?divmod[sd]i4|__(ashl|ashr|lshr)[sd]i3|__(clz|ctz|ffs|popcount|parity|bswap)[sd]i2|__u?cmpdi2)$'
if [ -z "${NM:-}" ]; then
  case "$cc" in
    *-gcc) NM=${cc%gcc}nm ;;
    *) NM=nm ;;
  esac
fi
# Compile in parallel (JOBS, default nproc); any failure fails the check.
[ $prebuilt = 1 ] || printf '%s\n' "${srcs[@]}" | xargs -P"${JOBS:-$(nproc)}" -I{} sh -c \
  'cc=$1; out=$2; s=$3; shift 3; exec "$cc" -std=c11 -ffreestanding -fno-builtin-printf -Os -Wall -Wextra -Werror -Iinclude "$@" -c "$s" -o "$out/$(basename "$s" .c).o"' \
  sh "$cc" "$out" {} "$@"
undef=$("$NM" -u "$out"/*.o | awk 'NF>=2 {print $2} NF==1 {print $1}' | grep -v ':$' | sort -u || true)
# Symbols defined by one core object and used by another are fine.
defined=$("$NM" --defined-only "$out"/*.o | awk 'NF==3 {print $3}' | sort -u)
ext=$(comm -23 <(printf '%s\n' "$undef" | grep -v '^$' || true) <(printf '%s\n' "$defined"))
helpers=$(printf '%s\n' "$ext" | grep -E "$libgcc" || true)
bad=$(printf '%s\n' "$ext" | grep -v '^$' | grep -Ev "$allowed" | grep -Ev "$libgcc" || true)
fail=0
if [ -n "$bad" ]; then
  echo "check-freestanding: the core references symbols the port layer does not name:" >&2
  for b in $bad; do
    printf '  %s (in %s)\n' "$b" "$("$NM" -Au "$out"/*.o | grep -w -- "$b" | sed 's|.*/||; s|^[0-9]*-||; s|\.o:.*|.c|' | sort -u | tr '\n' ' ')" >&2
  done
  fail=1
fi
echo "check-freestanding: ${#srcs[@]} core $([ $prebuilt = 1 ] && echo "objects ($cc)" || echo "files with $cc $*"): $([ $fail = 0 ] && echo clean || echo FAILED)" \
  "$([ -n "$helpers" ] && echo "(libgcc: $(echo $helpers))")"
exit $fail
