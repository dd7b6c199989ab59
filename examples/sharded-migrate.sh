#!/bin/bash
# examples/sharded-migrate.sh - copy a Chroma database in N shards run by
# GNU parallel (Debian package "parallel"): on this machine (-j N) or on
# several (--sshlogin), each shard an export and an import of its own,
# resumable alone.
#
#   examples/sharded-migrate.sh --old URL --new URL -n N [--dir DIR]
#       [--tenant T] [--database D] [--auth-header NAME]
#       [--sshlogin LOGIN]... [--resume-failed]
#
# Every shard K of N runs
#
#   cdb-export --shard K/N -o DIR/shard-K.ndjson -c DIR/shard-K.export.ckpt
#   cdb-import -c DIR/shard-K.import.ckpt DIR/shard-K.ndjson
#
# so a shard that fails resumes from its checkpoints when run again.  The
# shards of one export import into the same target with no extra flag
# (cdb-import(1), SHARDS).  parallel keeps DIR/joblog; --resume-failed
# runs again only the shards that failed or never ran.  At the end the
# target's record count is checked against the sum of the shards'
# trailers.
#
# Across machines (--sshlogin, once per host, as parallel(1) takes it):
# the cdb programs must be on PATH there, this script at the same path,
# and DIR on storage every host sees (or local to each host: a shard's
# files then stay where it ran, and a rerun must land on the same host).
# CHROMA_TOKEN is passed on to the shards' environment, never in argv.
#
# The source must not change while the shards run: each shard counts
# every collection when it starts and takes its range of those counts
# (cdb-export(1), --shard).
set -euo pipefail

usage() {
	sed -n '7,9p' "$0" | cut -c 3- >&2
	exit 2
}

# One shard, as parallel runs it: shard K N DIR OLD NEW [cdb options].
if [ "${1:-}" = shard ]; then
	k=$2 n=$3 dir=$4 old=$5 new=$6
	shift 6
	# A finished export is kept: its import may be resuming on it.
	if [ -e "$dir/shard-$k.export.ckpt" ] ||
		! tail -n 1 "$dir/shard-$k.ndjson" 2>/dev/null |
		jq -e '.kind == "trailer"' >/dev/null; then
		cdb-export -q -u "$old" "$@" --shard "$k/$n" \
			-o "$dir/shard-$k.ndjson" -c "$dir/shard-$k.export.ckpt"
	fi
	exec cdb-import -q -u "$new" "$@" -c "$dir/shard-$k.import.ckpt" \
		"$dir/shard-$k.ndjson"
fi

old= new= n= dir=./sharded-migration resume=()
opts=() logins=()
while [ $# -gt 0 ]; do
	case $1 in
	--old) old=$2; shift ;;
	--new) new=$2; shift ;;
	-n) n=$2; shift ;;
	--dir) dir=$2; shift ;;
	--tenant | --database | --auth-header) opts+=("$1" "$2"); shift ;;
	--sshlogin) logins+=(--sshlogin "$2"); shift ;;
	--resume-failed) resume=(--resume-failed) ;;
	*) usage ;;
	esac
	shift
done
[ -n "$old" ] && [ -n "$new" ] && [[ $n =~ ^[1-9][0-9]*$ ]] || usage
command -v parallel >/dev/null ||
	{ echo "sharded-migrate: GNU parallel is needed (apt-get install parallel)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# -j N: every shard at once (per host with --sshlogin); --halt never:
# the others go on when one fails, and the joblog says which.
seq 1 "$n" | parallel -j "$n" --joblog "$dir/joblog" "${resume[@]}" \
	"${logins[@]}" --env CHROMA_TOKEN --halt never --line-buffer \
	"$self" shard {} "$n" "$dir" "$old" "$new" "${opts[@]}" || {
	echo "sharded-migrate: shards failed (see $dir/joblog); run again" \
		"with --resume-failed to rerun only those" >&2
	exit 1
}

# Every shard's records are in the target: its count is their sum.
want=0
for ((k = 1; k <= n; k++)); do
	want=$((want + $(tail -n 1 "$dir/shard-$k.ndjson" | jq .records)))
done
have=$(cdb-export -q -u "$new" "${opts[@]}" --embeddings none | tail -n 1 | jq .records)
if [ "$have" != "$want" ]; then
	echo "sharded-migrate: the target holds $have records, the shards $want" >&2
	exit 1
fi
echo "sharded-migrate: $n shards, $want records copied"
