#!/bin/bash
# Records the default schema cannot make fit (tests/fixtures/
# transform-rejects.ndjson: a bad int, an enum miss, a missing required
# field, a bad date, a duplicate id, a value out of range, a pattern miss):
# the run stops at the first by default; --rejects files them and goes on;
# --max-rejects stops after N; --dry-run only counts.  Exit statuses 0, 1,
# 4.  No server needed: the stream is a fixture.
. "$(dirname "$0")/../lib.sh"

SCHEMA=$REPO/schemas/default.json
IN=$REPO/tests/fixtures/transform-rejects.ndjson

# check_stream FILE: a complete stream whose trailer matches its lines
# (counted and hashed here, independently of libcdb).
check_stream() {
	local f=$1 want
	want=$("$REPO/tests/fixtures/retrailer" "$f" | tail -n 1)
	assert_eq "$want" "$(tail -n 1 "$f")" "trailer of $f"
}

# Default: the first reject ends the run, exit 1, with file:line, id,
# field and reason; what was written has no trailer.
st=0
cdb-transform -s "$SCHEMA" "$IN" > "$T/out" 2> "$T/err" || st=$?
assert_eq 1 "$st" "exit status at the first reject"
assert_eq "cdb-transform: $IN:5: id \"bad-chunk\": field \"chunk_index\": cannot convert \"abc\" to int" \
	"$(cat "$T/err")" "first reject message"
grep -q '"kind":"trailer"' "$T/out" && fail "trailer written after a stop"
assert_eq 3 "$(wc -l < "$T/out")" "lines before the stop (header, collection, good-1)"

# The same from stdin is named "stdin".
st=0
cdb-transform -s "$SCHEMA" < "$IN" > /dev/null 2> "$T/err" || st=$?
assert_eq 1 "$st"
grep -q '^cdb-transform: stdin:5: id "bad-chunk": ' "$T/err" || fail "stdin name: $(cat "$T/err")"

# --rejects: every bad record filed with its reason, the rest written,
# exit 4.
st=0
cdb-transform -q -s "$SCHEMA" --rejects "$T/rej" "$IN" > "$T/out" 2> "$T/err" || st=$?
assert_eq 4 "$st" "exit status with rejects filed"
assert_eq "" "$(cat "$T/err")" "-q is quiet"
check_stream "$T/out"
assert_eq "good-1 good-2 good-3" "$(jq -r 'select(.kind=="record") | .id' "$T/out" | xargs)" \
	"records written"
assert_eq "humor humor corpus" \
	"$(jq -r 'select(.kind=="record") | .collection' "$T/out" | xargs)" "target collections"
assert_eq 8 "$(wc -l < "$T/rej")" "rejects filed"
assert_eq "5 bad-chunk chunk_index cannot convert
6 bad-lang language not in enum
8 bad-missing source_id missing field
9 bad-date created_at cannot convert
10 good-1 null id collision
12 bad-range token_count out of range
13 bad-pattern source_id pattern mismatch
14 bad-type source_type not in enum" \
	"$(jq -r '"\(.line) \(.id) \(.field) \(.reason)"' "$T/rej")" "rejects: line, id, field, reason"
assert_eq 'field "created_at": cannot convert "yesterday" to a date' \
	"$(jq -r 'select(.id=="bad-date") | .message' "$T/rej")" "reject message"
# Each reject holds its original line, byte for byte.
while read -r n; do
	want=$(sed -n "${n}p" "$IN")
	got=$(grep "^{\"kind\":\"reject\",\"line\":$n," "$T/rej")
	case $got in
	*",\"record\":$want}") ;;
	*) fail "reject of line $n does not end with the original line" ;;
	esac
done < <(jq -r .line "$T/rej")

# Embeddings pass untouched: floats and base64, bit for bit as text.
emb() { grep '"kind":"record"' "$1" | sed 's/.*"id":"\([^"]*\)".*"embedding":\(.*\),"uri".*/\1 \2/'; }
assert_eq "$(emb "$IN" | grep -E '^good-(2|3) ')" "$(emb "$T/out" | grep -E '^good-(2|3) ')" \
	"embeddings through transform"

# The output is what the schema promises for the messy good records.
assert_eq '{"source_id":"corpus/c.md","source_type":"essay","author":"Sergio","title":"H","created_at":1709596800,"language":"en","chunk_index":0,"chunk_count":1,"token_count":7,"tags":["untagged"],"citation":"if://chunk/corpus/good-3","schema_version":2}' \
	"$(jq -c 'select(.id=="good-3") | .metadata' "$T/out")" "good-3 metadata"
assert_eq '{"source_id":"humor/a.md","source_type":"essay","author":"Sergio","title":"T","created_at":1704153600,"language":"en","chunk_index":0,"chunk_count":3,"token_count":50,"tags":["wit","irony"],"citation":"if://chunk/humor/good-1","schema_version":2}' \
	"$(jq -c 'select(.id=="good-1") | .metadata' "$T/out")" "good-1 metadata"

# --max-rejects 2: stop at the second, exit 1, both filed.
st=0
cdb-transform -s "$SCHEMA" --rejects "$T/rej2" --max-rejects 2 "$IN" > "$T/out" 2> "$T/err" || st=$?
assert_eq 1 "$st" "exit status at --max-rejects"
assert_eq "cdb-transform: $IN:6: id \"bad-lang\": field \"language\": \"klingon\" is not one of \"en\", \"es\"; stopping at 2 rejected records" \
	"$(cat "$T/err")" "--max-rejects message"
assert_eq 2 "$(wc -l < "$T/rej2")" "rejects filed before the stop"
grep -q '"kind":"trailer"' "$T/out" && fail "trailer written after --max-rejects"

# --max-rejects without a file: rejects shown on stderr, the run goes on.
st=0
cdb-transform -s "$SCHEMA" --max-rejects 100 "$IN" > "$T/out" 2> "$T/err" || st=$?
assert_eq 4 "$st"
assert_eq 8 "$(grep -c '(rejected)$' "$T/err")" "rejects on stderr"
check_stream "$T/out"

# --dry-run: nothing on stdout, the summary on stderr, exit 4.
st=0
cdb-transform -n -s "$SCHEMA" --rejects "$T/rej3" "$IN" > "$T/out" 2> "$T/err" || st=$?
assert_eq 4 "$st" "dry run exit status"
assert_eq 0 "$(wc -c < "$T/out")" "dry run writes nothing"
assert_eq 8 "$(wc -l < "$T/rej3")" "dry run files rejects"
grep -q '^records: 11 in, 3 out, 8 rejected$' "$T/err" || fail "summary: $(cat "$T/err")"
grep -Eq '^  sergio_humor +7$' "$T/err" || fail "records in per collection"
grep -Eq '^  humor +2$' "$T/err" || fail "records out per collection"
grep -Eq '^  tags +1 +1 +1 +0 +0 +0$' "$T/err" || fail "tags filled: copied, coerced, default"
grep -Eq '^  field "source_id": missing field +1$' "$T/err" || fail "rejects by reason"
grep -Eq '^  id collision +1$' "$T/err" || fail "collisions by reason"

# A clean stream: exit 0, and a one-line summary.
grep -v -e '"id":"bad-' -e '"document":"again"' "$IN" | "$REPO/tests/fixtures/retrailer" > "$T/good.ndjson"
st=0
cdb-transform -s "$SCHEMA" "$T/good.ndjson" > "$T/out" 2> "$T/err" || st=$?
assert_eq 0 "$st" "clean run: $(cat "$T/err")"
grep -q '^cdb-transform: 3 records in, 3 out, 0 rejected, ' "$T/err" || fail "summary line: $(cat "$T/err")"
check_stream "$T/out"
head -n 1 "$T/out" | jq -e '.kind == "header" and .tool == "cdb-transform 0.1.0" and
	(.schema.digest | startswith("xxh64:")) and .source == "http://old.example:8000"' \
	> /dev/null || fail "header: $(head -n 1 "$T/out")"

# A damaged input: the reader's message, exit 1, no trailer.
sed 's/"document":"fine"/"document":"FINE"/' "$T/good.ndjson" > "$T/damaged.ndjson"
st=0
cdb-transform -s "$SCHEMA" "$T/damaged.ndjson" > "$T/out" 2> "$T/err" || st=$?
assert_eq 1 "$st"
grep -q "^cdb-transform: $T/damaged.ndjson:7: digest mismatch" "$T/err" || fail "damaged: $(cat "$T/err")"
grep -q '"kind":"trailer"' "$T/out" && fail "trailer written for a damaged input"

# A reader that goes away (head) ends the run quietly.
st=0
cdb-transform -s "$SCHEMA" "$T/good.ndjson" 2> "$T/err" | head -c 10 > /dev/null || st=$?
assert_eq 0 "$st" "EPIPE"
grep -q 'Broken pipe' "$T/err" && fail "EPIPE reported: $(cat "$T/err")"
true
