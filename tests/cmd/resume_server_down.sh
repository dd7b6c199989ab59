#!/bin/bash
# The target server dies in the middle of an import: cdb-import fails
# after its retries, and rerunning it against the restarted server ends
# with exactly the source's records (the checkpoint never claims a batch
# the server did not acknowledge).
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" down-one 3000 64
cdb-export -q -u "$URL_a" > "$T/dump.ndjson"
args=(-q -u "$URL_b" -b 100 -c "$T/ckpt" "$T/dump.ndjson")

"$CDB_IMPORT" "${args[@]}" 2> "$T/err" &
pid=$!
for ((i = 0; i < 600; i++)); do
	got=$(jq '[.collections[]] | add // 0' "$T/ckpt" 2>/dev/null || echo 0)
	[ "${got:-0}" -ge 600 ] && break
	sleep 0.05
done
port=${URL_b##*:}
stop_server b
if wait "$pid"; then
	fail "import succeeded although its server was stopped"
fi
grep -q 'Could not connect\|Couldn.t connect\|connect' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"
committed=$(jq '.line' "$T/ckpt")
[ "$committed" -lt 3002 ] || fail "checkpoint claims everything ($committed)"

CDB_PORT=$port start_server b
cdb-import "${args[@]}"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "target differs from source after the server came back"
