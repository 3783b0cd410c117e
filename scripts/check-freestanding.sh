#!/usr/bin/env bash
# Compile the portable core freestanding (no libc headers beyond the
# freestanding ones, no libc at link) and fail on any undefined symbol the
# port layer does not name. Usage: scripts/check-freestanding.sh [CC] [extra CFLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
cc=${1:-cc}
shift || true
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The same file lists CMake uses (src/*/sources.cmake), read as text.
mapfile -t srcs < <(for s in src/*/sources.cmake; do
  d=$(dirname "$s")
  grep -o '${CMAKE_CURRENT_LIST_DIR}/[^ )]*\.c' "$s" | sed "s|\${CMAKE_CURRENT_LIST_DIR}|$d|"
done)
[ ${#srcs[@]} -gt 0 ] || { echo "check-freestanding: no core sources found" >&2; exit 1; }
allowed='^(memcpy|memset|memmove)$'
fail=0
for s in "${srcs[@]}"; do
  o="$out/$(basename "$s" .c).o"
  "$cc" -std=c11 -ffreestanding -fno-builtin-printf -Os -Wall -Wextra -Werror -Iinclude "$@" -c "$s" -o "$o"
done
nm=${NM:-nm}
undef=$("$nm" -u "$out"/*.o | awk 'NF>=2 {print $2} NF==1 {print $1}' | grep -v ':$' | sort -u || true)
# Symbols defined by one core object and used by another are fine.
defined=$("$nm" --defined-only "$out"/*.o | awk 'NF==3 {print $3}' | sort -u)
bad=$(comm -23 <(printf '%s\n' "$undef" | grep -v '^$' || true) <(printf '%s\n' "$defined") | grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
  echo "check-freestanding: the core references symbols the port layer does not name:" >&2
  printf '  %s\n' $bad >&2
  fail=1
fi
echo "check-freestanding: ${#srcs[@]} core files with $cc $*: $([ $fail = 0 ] && echo clean || echo FAILED)"
exit $fail
