#!/bin/bash
# Every kind of bad input gives "cdb-import: NAME:LINE: what is wrong", a
# non-zero exit, and a target holding only the complete batches before it.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" bad-src 10 4
cdb-export -q -u "$URL_a" > "$T/good.ndjson"
# Line 1 header, 2 collection, 3..12 records, 13 trailer.
assert_eq 13 "$(wc -l < "$T/good.ndjson")" "lines in the fixture stream"

n=0
# expect_error LINE PATTERN: import $T/in.ndjson with batches of 2 into a
# fresh collection name and check the message and the committed records.
expect_error() {
	local line=$1 pattern=$2 committed=${3:-}
	n=$((n + 1))
	sed "s/\"bad-src\"/\"bad-$n\"/g" "$T/in.ndjson" > "$T/case$n.ndjson"
	if cdb-import -q -u "$URL_b" -b 2 "$T/case$n.ndjson" 2> "$T/err"; then
		fail "case $n ($pattern): import succeeded"
	fi
	grep -q "^cdb-import: $T/case$n.ndjson:$line: .*$pattern" "$T/err" ||
		fail "case $n: want line $line and '$pattern', got: $(cat "$T/err")"
	if [ -n "$committed" ]; then
		id=$(collection_id "$URL_b" "bad-$n")
		got=$(api "$URL_b" "collections/$id/count")
		assert_eq "$committed" "$got" "case $n: records committed before line $line"
	fi
}

# replace LINE TEXT: the good stream with line LINE replaced.
replace() {
	awk -v n="$1" -v t="$2" 'NR == n { print t; next } { print }' \
		"$T/good.ndjson" > "$T/in.ndjson"
}
rec() { sed -n "${1}p" "$T/good.ndjson"; }

replace 8 '{"kind":"record", broken'
expect_error 8 'malformed JSON' 4

replace 7 "$(rec 7 | jq -c '.collection = "elsewhere"')"
expect_error 7 'before its collection line' 4

replace 9 "$(rec 9 | jq -c 'del(.id)')"
expect_error 9 'record has no id' 6

replace 6 "$(rec 6 | jq -c '.embedding |= .[0:3]')"
expect_error 6 'embedding has 3 values, collection expects 4' 2

replace 5 "$(rec 5 | sed 's/"embedding":\[[^],]*/"embedding":[1e39/')"
expect_error 5 'embedding value at index 0' 2

replace 4 "$(rec 4 | jq -c '.metadata.nested = {"a":1}')"
expect_error 4 'metadata "nested"' 0

replace 4 "$(rec 4 | jq -c '.metadata.mixed = [1,"a"]')"
expect_error 4 'metadata "mixed"' 0

replace 4 "$(rec 4 | jq -c '.metadata.gone = null')"
expect_error 4 'metadata "gone" is null' 0

# A truncated stream (no trailer): only complete batches land.
head -n 9 "$T/good.ndjson" > "$T/in.ndjson"
expect_error 10 'without a trailer' 6
# ... and --allow-partial takes what is there.
head -n 9 "$T/good.ndjson" | sed 's/"bad-src"/"bad-partial"/g' > "$T/partial.ndjson"
cdb-import -q -u "$URL_b" --allow-partial "$T/partial.ndjson" 2>/dev/null
assert_eq 7 "$(api "$URL_b" "collections/$(collection_id "$URL_b" bad-partial)/count")" \
	"records from a partial stream with --allow-partial"
# A complete last record without its newline is one of them; a last line
# cut inside its JSON is an error even so (cdb-import(1)).
head -n 9 "$T/good.ndjson" | sed 's/"bad-src"/"bad-nonl"/g' | head -c -1 > "$T/nonl.ndjson"
cdb-import -q -u "$URL_b" --allow-partial "$T/nonl.ndjson" 2>/dev/null
assert_eq 7 "$(api "$URL_b" "collections/$(collection_id "$URL_b" bad-nonl)/count")" \
	"a complete last record without its newline is kept"
head -n 9 "$T/good.ndjson" | sed 's/"bad-src"/"bad-cut"/g' | head -c -20 > "$T/cut.ndjson"
if cdb-import -q -u "$URL_b" --allow-partial "$T/cut.ndjson" 2> "$T/err"; then
	fail "a last line cut mid-JSON was accepted with --allow-partial"
fi
grep -q "^cdb-import: $T/cut.ndjson:9: last line is cut short" "$T/err" ||
	fail "cut line message: $(cat "$T/err")"

# Input errors read from stdin are named "stdin".
if printf 'not json\n' | cdb-import -q -u "$URL_b" 2> "$T/err"; then
	fail "garbage accepted"
fi
grep -q '^cdb-import: stdin:1: ' "$T/err" || fail "stdin message: $(cat "$T/err")"

# Server errors carry the server's own message (name too short for Chroma).
sed 's/"bad-src"/"ab"/g' "$T/good.ndjson" > "$T/short.ndjson"
if cdb-import -q -u "$URL_b" "$T/short.ndjson" 2> "$T/err"; then
	fail "server accepted a 2-character collection name"
fi
grep -q 'Expected a name containing 3-512 characters' "$T/err" ||
	fail "server message not shown: $(cat "$T/err")"

# An unreachable server is reported, not hung on.
if cdb-import -q -u http://127.0.0.1:1 "$T/good.ndjson" 2> "$T/err"; then
	fail "import to a closed port succeeded"
fi
grep -qi 'connect' "$T/err" || fail "unreachable message: $(cat "$T/err")"
