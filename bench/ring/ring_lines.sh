#!/usr/bin/env bash
# Counted cache-line transfers per buffer between driver and device, for each
# ring layout and mode, from a valgrind lackey trace of ring_lines (see
# ring_lines.c and ring_lines.py). Deterministic: the same binary gives the
# same counts on any machine, loaded or not.
#
# Usage: bench/ring/ring_lines.sh [--bin PATH] [--buffers N] [--json]
#                                 [--bufs D] [--bursts "1 4 32"] [--modes "split packed split-in-order packed-in-order"]
#   --bin PATH   ring_lines binary (default: build-rel/bench/ring/ring_lines)
# Needs: valgrind, python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/build-rel/bench/ring/ring_lines"
buffers=2048
bursts="1 4 32"
modes="split packed split-in-order packed-in-order"
json=""
extra=()
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--buffers) buffers=$2; shift 2 ;;
	--bursts) bursts=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--json) json=--json; shift ;;
	--bufs) extra=(--bufs "$2"); shift 2 ;;
	-h | --help) sed -n '2,12p' "$0"; exit 0 ;;
	*) echo "ring_lines.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v valgrind >/dev/null || { echo "ring_lines.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
[ -x "$bin" ] || { echo "ring_lines.sh: no binary $bin (build target ring_lines)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/vtio-ring-lines.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for mode in $modes; do
	case "$mode" in
	split) a=(--layout split) ;;
	packed) a=(--layout packed) ;;
	split-in-order) a=(--layout split --in-order) ;;
	packed-in-order) a=(--layout packed --in-order) ;;
	*) echo "ring_lines.sh: unknown mode $mode" >&2; exit 2 ;;
	esac
	for b in $bursts; do
		timeout 300 valgrind --tool=lackey --trace-mem=yes --log-file="$tmp/trace" \
			"$bin" "${a[@]}" --burst "$b" --buffers "$buffers" ${extra[@]+"${extra[@]}"} >"$tmp/out"
		python3 "$root/bench/ring/ring_lines.py" "$tmp/out" "$tmp/trace" $json --label "$mode burst $b"
	done
done
