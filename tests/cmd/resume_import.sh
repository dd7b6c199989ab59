#!/bin/bash
# kill -9 cdb-import at several moments, rerun the same command on the same
# input: the target ends with exactly the source's records, none missing,
# none duplicated, none changed.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" big-one 3000 64
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" big-two 1500 32 ip
cdb-export -q -u "$URL_a" > "$T/dump.ndjson"

args=(-q -u "$URL_b" -b 100 -j 2 -c "$T/ckpt" "$T/dump.ndjson")

# Kill at three points of progress: early, middle, late.
for want in 300 1800 3900; do
	# Started directly, so $! is cdb-import itself and kill -9 hits it.
	"$CDB_IMPORT" "${args[@]}" &
	pid=$!
	for ((i = 0; i < 600; i++)); do
		got=$(jq '[.collections[]] | add // 0' "$T/ckpt" 2>/dev/null || echo 0)
		[ "${got:-0}" -ge "$want" ] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	jq -e '.complete == false' "$T/ckpt" >/dev/null ||
		fail "import finished before the kill at $want; test proves nothing"
done

cdb-import "${args[@]}"
jq -e '.complete == true' "$T/ckpt" >/dev/null || fail "checkpoint not complete"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "target differs from source after resumed import"

# Rerunning after completion changes nothing and says so.
cdb-import "${args[@]}" 2>/dev/null
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" >/dev/null ||
	fail "rerun after completion changed the target"
