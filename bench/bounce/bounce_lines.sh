#!/usr/bin/env bash
# Counted cache-line transfers per map+unmap between two threads mapping on
# two areas of one pool (bounce_bench's `threads` workload), from a valgrind
# lackey trace of bounce_lines (see bounce_lines.c), replayed by the ring
# work's two-cache MESI model bench/ring/ring_lines.py ("driver" = thread 0,
# "device" = thread 1). Deterministic: the same binary gives the same counts
# on any machine, loaded or not.
#
# Usage: bench/bounce/bounce_lines.sh [--bin PATH] [--buffers N] [--json]
#                                     [--sizes "512 4096"] [--bursts "1 8"]
#                                     [--modes "cached plain cached-adjacent"]
#   --bin PATH   bounce_lines binary (default: build-rel/bench/bounce/bounce_lines)
# Needs: valgrind, python3.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin="$root/build-rel/bench/bounce/bounce_lines"
buffers=2048
sizes="512 4096"
bursts="1 8"
modes="cached plain cached-adjacent"
json=""
while [ $# -gt 0 ]; do
	case "$1" in
	--bin) bin=$2; shift 2 ;;
	--buffers) buffers=$2; shift 2 ;;
	--sizes) sizes=$2; shift 2 ;;
	--bursts) bursts=$2; shift 2 ;;
	--modes) modes=$2; shift 2 ;;
	--json) json=--json; shift ;;
	-h | --help) sed -n '2,13p' "$0"; exit 0 ;;
	*) echo "bounce_lines.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
command -v valgrind >/dev/null || { echo "bounce_lines.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
[ -x "$bin" ] || { echo "bounce_lines.sh: no binary $bin (build target bounce_lines)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/vtio-bounce-lines.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for mode in $modes; do
	case "$mode" in
	cached) a=() ;;
	plain) a=(--plain) ;;
	cached-adjacent) a=(--adjacent) ;;
	plain-adjacent) a=(--plain --adjacent) ;;
	*) echo "bounce_lines.sh: unknown mode $mode" >&2; exit 2 ;;
	esac
	for s in $sizes; do
		for b in $bursts; do
			timeout 300 valgrind --tool=lackey --trace-mem=yes --log-file="$tmp/trace" \
				"$bin" ${a[@]+"${a[@]}"} --size "$s" --burst "$b" --buffers "$buffers" >"$tmp/out"
			python3 "$root/bench/ring/ring_lines.py" "$tmp/out" "$tmp/trace" $json \
				--label "$mode $s B burst $b"
		done
	done
done
