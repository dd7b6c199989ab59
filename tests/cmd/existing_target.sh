#!/bin/bash
# A target collection that already holds records is refused without
# --append; --dry-run checks everything and writes nothing.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" keep-me 50 8
cdb-export -q -u "$URL_a" > "$T/dump.ndjson"

# Dry run against an empty target: success, and no collection created.
cdb-import -q -u "$URL_b" --dry-run "$T/dump.ndjson"
assert_eq "[]" "$(api "$URL_b" collections | jq -c '[.[].name]')" "dry run created something"

cdb-import -q -u "$URL_b" "$T/dump.ndjson"
if cdb-import -q -u "$URL_b" "$T/dump.ndjson" 2> "$T/err"; then
	fail "second import into a non-empty collection was not refused"
fi
grep -q 'already exists on the target and holds 50 records; use --append' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"
# The dry run sees the same problem.
assert_status 1 cdb-import -q -u "$URL_b" --dry-run "$T/dump.ndjson"

# --append adds; ids that exist are left alone (add) and nothing doubles.
cdb-import -q -u "$URL_b" --append "$T/dump.ndjson"
id=$(collection_id "$URL_b" keep-me)
assert_eq 50 "$(api "$URL_b" "collections/$id/count")" "count after --append"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" >/dev/null ||
	fail "--append changed records"

# A wrong-dimension collection on the target is caught before writing.
start_server c
create_collection "$URL_c" keep-me >/dev/null
cid=$(collection_id "$URL_c" keep-me)
api "$URL_c" "collections/$cid/add" '{"ids":["x"],"embeddings":[[1,2,3]]}' >/dev/null
if cdb-import -q -u "$URL_c" --append "$T/dump.ndjson" 2> "$T/err"; then
	fail "import into a 3-dimension collection succeeded"
fi
grep -q 'embedding has 8 values, collection expects 3' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"
