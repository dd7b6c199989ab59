#!/bin/bash
# The fidelity round trip: cdb-export A | cdb-import B into an empty B gives
# a server equal to A in every collection, record, type and bit; the same
# through a saved base64 stream; and the trailer catches a damaged file.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
start_server c
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null

cdb-export -q -u "$URL_a" | cdb-import -q -u "$URL_b"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "pipe copy differs from the source"

# 64-bit integers must arrive as the same integer, not a rounded double.
cdb-export -q -u "$URL_b" fid-l2 > "$T/b.ndjson"
grep -q '"big":9007199254740993' "$T/b.ndjson" || fail "64-bit int changed"
grep -q '"small":-9007199254740993' "$T/b.ndjson" || fail "negative 64-bit int changed"
grep -q '"whole_float":2.0' "$T/b.ndjson" || fail "whole float became an int"

# Every line is one compact JSON object with a kind; jq can select records.
n=$(jq -c 'select(.kind=="record")' "$T/b.ndjson" | wc -l)
assert_eq 230 "$n" "record lines in fid-l2 export"

# A saved base64 stream restores the same data.
cdb-export -q -u "$URL_a" --embeddings base64 > "$T/a64.ndjson"
head -3 "$T/a64.ndjson" | tail -1 | jq -e '.embedding | type == "string"' >/dev/null ||
	fail "base64 export did not write a string embedding"
cdb-import -q -u "$URL_c" "$T/a64.ndjson"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_c" ||
	fail "base64 file copy differs from the source"

# A flipped byte inside a record is caught by the digest; nothing is lost
# silently.
cdb-export -q -u "$URL_a" fid-ip > "$T/ip.ndjson"
sed 's/"document":""/"document":"X"/' "$T/ip.ndjson" > "$T/bad.ndjson"
cmp -s "$T/ip.ndjson" "$T/bad.ndjson" && fail "test edit changed nothing"
start_server d
if cdb-import -q -u "$URL_d" "$T/bad.ndjson" 2> "$T/err"; then
	fail "import accepted an edited stream"
fi
grep -q 'digest mismatch' "$T/err" || fail "unexpected message: $(cat "$T/err")"
