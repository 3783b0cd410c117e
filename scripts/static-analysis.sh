#!/usr/bin/env bash
# clang-tidy and cppcheck over src/ (the portable core and the host
# helpers) with the checked-in configuration: .clang-tidy and
# scripts/static-analysis/cppcheck-suppressions.txt. Findings listed in
# scripts/static-analysis/baseline.txt (reported, not yet fixed; keyed by
# tool, directory and check) are shown
# but do not fail; any other finding fails.
# Usage: scripts/static-analysis.sh [build dir (default build-static-analysis)]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bdir=${1:-build-static-analysis}
jobs=${JOBS:-$(nproc)}
tidy=${CLANG_TIDY:-clang-tidy}
command -v "$tidy" >/dev/null || { echo "static-analysis: $tidy missing (apt-get install clang-tidy)" >&2; exit 1; }
command -v cppcheck >/dev/null || { echo "static-analysis: cppcheck missing (apt-get install cppcheck)" >&2; exit 1; }

# compile_commands.json for the library and the host helpers only.
CC=${CC:-clang} cmake -S . -B "$bdir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DVTIO_BUILD_TESTS=OFF \
  -DVTIO_BUILD_BENCH=OFF -DVTIO_BUILD_EXAMPLES=OFF -DVTIO_BUILD_FUZZ=OFF -DVTIO_INSTALL=OFF >/dev/null
mapfile -t core < <(cmake -P scripts/core-sources.cmake)
mapfile -t host < <(find src/host -name '*.c' 2>/dev/null | sort)
files=("${core[@]}" "${host[@]}")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "static-analysis: clang-tidy over ${#files[@]} files"
printf '%s\n' "${files[@]}" | xargs -P"$jobs" -I{} sh -c \
  '"$0" -p "$1" --quiet "$2" >"$3/tidy.$(echo "$2" | tr / _)" 2>/dev/null || true' \
  "$tidy" "$bdir" {} "$out"
cat "$out"/tidy.* | grep -E '^/.*: (warning|error): ' | sort -u >"$out/tidy.txt" || true

echo "static-analysis: cppcheck over ${#files[@]} files"
# cppcheck reads no comments in a suppressions list: give it the ids only.
grep -Ev '^[[:space:]]*(#|$)' scripts/static-analysis/cppcheck-suppressions.txt >"$out/suppr.txt"
cppcheck --std=c11 --enable=warning,style,performance,portability --inline-suppr --quiet \
  --suppressions-list="$out/suppr.txt" \
  -Iinclude -Isrc/ring -Isrc/bounce -Isrc/dma -Isrc/transport -Isrc/host -D__GNUC__ \
  --platform=unix64 -j"$jobs" --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
  "${files[@]}" 2>"$out/cppcheck.txt" >/dev/null || {
  # Findings do not change cppcheck's exit code; a failure to run does.
  echo "static-analysis: cppcheck failed to run:" >&2
  cat "$out/cppcheck.txt" >&2
  exit 1
}

# Normalise to "<tool>|<directory>|<check>" keys (the directory, not the
# file, so a finding survives code moving between files of one component).
{
  sed -E "s|^$root/||" "$out/tidy.txt" | sed -E 's|^([^:]+)/[^/:]+:[0-9]+:[0-9]+: [a-z]+: .*\[([^],]+)[],].*$|clang-tidy\|\1\|\2|'
  { grep -E '^[^ ]+:[0-9]+:[0-9]+: ' "$out/cppcheck.txt" || true; } | sed -E "s|^$root/||" |
    sed -E 's|^([^:]+)/[^/:]+:[0-9]+:[0-9]+: [a-z]+: .*\[([^]]+)\]$|cppcheck\|\1\|\2|'
} | sort -u >"$out/found.txt"
{ grep -v '^#' scripts/static-analysis/baseline.txt || true; } | { grep -v '^$' || true; } | sort -u >"$out/baseline.txt"

new=$(comm -23 "$out/found.txt" "$out/baseline.txt")
fixed=$(comm -13 "$out/found.txt" "$out/baseline.txt")
known=$(comm -12 "$out/found.txt" "$out/baseline.txt")
if [ -n "$known" ]; then
  echo "static-analysis: known findings (baseline, reported to their owners):"
  printf '  %s\n' $known
fi
if [ -n "$fixed" ]; then
  echo "static-analysis: baseline entries no longer found (remove them from scripts/static-analysis/baseline.txt):"
  printf '  %s\n' $fixed
fi
if [ -n "$new" ]; then
  echo "static-analysis: NEW findings:" >&2
  for k in $new; do
    IFS='|' read -r tool file check <<<"$k"
    if [ "$tool" = clang-tidy ]; then grep -F "$file/" "$out/tidy.txt" | grep -F "[$check" >&2 || true
    else grep -F "$file/" "$out/cppcheck.txt" | grep -F "[$check]" >&2 || true; fi
  done
  exit 1
fi
echo "static-analysis: clean (${#files[@]} files; $(printf '%s\n' $known | grep -c . || true) known findings in the baseline)"
