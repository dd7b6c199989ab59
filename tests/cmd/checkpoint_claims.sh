#!/bin/bash
# An import checkpoint never claims a record the server has not
# acknowledged: at every add it forwards, a proxy in front of the real
# server reads the checkpoint and records any claim on the batch that is
# still arriving.  (A kill -9 at such a moment would lose that batch.)
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
# One collection: record number k (its id ends in k) is on line 3 + k.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" claims 3000 16
cdb-export -q -u "$URL_a" > "$T/dump.ndjson"

start_proxy claims "$URL_b" CKPT="$T/ckpt" FIRST_LINE=3
proxy=$P_claims

for jobs in 1 3; do
	cdb-import -q -u "$proxy" -b 100 -j "$jobs" -c "$T/ckpt" --append \
		"$T/dump.ndjson"
	rm -f "$T/ckpt"
done
[ ! -s "$T/ckpt.bad" ] || fail "$(head -3 "$T/ckpt.bad")"
assert_eq 3000 "$(api "$URL_b" "collections/$(collection_id "$URL_b" claims)/count")" \
	"records imported"
