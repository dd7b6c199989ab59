#!/bin/bash
# A /get fails for good in the middle of an export with several gets in
# flight: cdb-export stops with the server's message instead of waiting
# for a page that will not come, its output ends at the last checkpoint,
# and the same command, once the server answers again, completes it with
# every record exactly once.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" gf-one 260 8
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" gf-two 240 8

touch "$T/broken"
start_proxy fails "$URL_a" FAIL_GET=5 FAIL_STATUS=400 FAIL_WHILE="$T/broken"
P=$P_fails

args=(-j 3 -b 50 -u "$P" -o "$T/out.ndjson" -c "$T/ckpt")
assert_status 1 timeout 60 "$CDB_EXPORT" "${args[@]}" 2> "$T/err"
grep -q 'injected failure' "$T/err" ||
	fail "the server's message is not shown: $(cat "$T/err")"
[ -f "$T/ckpt" ] || fail "no checkpoint after the failure"
before=$(jq -c 'select(.kind=="record")' "$T/out.ndjson" | wc -l)
[ "$before" -gt 0 ] && [ "$before" -lt 500 ] ||
	fail "expected part of the records before the failure, got $before"

rm "$T/broken"
assert_status 0 "$CDB_EXPORT" -q "${args[@]}"
[ ! -f "$T/ckpt" ] || fail "checkpoint left behind after a finished export"
assert_eq 500 "$(jq -r 'select(.kind=="record") | .id' "$T/out.ndjson" | wc -l)" \
	"record lines after resume"
assert_eq 500 "$(jq -r 'select(.kind=="record") | .id' "$T/out.ndjson" | sort -u | wc -l)" \
	"distinct ids after resume"
cdb-import -q -u "$URL_b" "$T/out.ndjson"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "import of the resumed export differs from the source"
