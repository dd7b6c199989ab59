#!/bin/bash
# The schema file on the command line: --check, and malformed files
# refused before any input is read, with the place in the file; usage
# errors exit 2.
. "$(dirname "$0")/../lib.sh"

IN=$REPO/tests/fixtures/transform-rejects.ndjson

# expect_refused FILE MESSAGE: cdb-transform exits 1 with exactly MESSAGE
# and writes nothing.
expect_refused() {
	local st=0
	cdb-transform -s "$1" "$IN" > "$T/out" 2> "$T/err" || st=$?
	assert_eq 1 "$st" "exit status for $1"
	assert_eq "cdb-transform: $2" "$(cat "$T/err")" "message for $1"
	assert_eq 0 "$(wc -c < "$T/out")" "output for a refused schema"
}

out=$(cdb-transform --check -s "$REPO/schemas/default.json")
case $out in
"$REPO/schemas/default.json: ok: 13 fields, 4 target collections, xxh64:"*) ;;
*) fail "--check: $out" ;;
esac

printf '{"fields": {"a": {"type": "int"}},\n "collections": [\n' > "$T/syntax.json"
expect_refused "$T/syntax.json" "$T/syntax.json:3:0: invalid JSON: ']' expected near end of file"

jq '.fields.chunk_index.type = "integr"' "$REPO/schemas/default.json" > "$T/type.json"
expect_refused "$T/type.json" "$T/type.json: fields.chunk_index.type: unknown type \"integr\""

jq '.fields.title.requird = true' "$REPO/schemas/default.json" > "$T/key.json"
expect_refused "$T/key.json" "$T/key.json: fields.title: unknown key \"requird\" (did you mean \"required\"?)"

jq '.fields.citation.template = "if://chunk/{collection}/{chunk_idx}"' \
	"$REPO/schemas/default.json" > "$T/tpl.json"
expect_refused "$T/tpl.json" "$T/tpl.json: fields.citation.template: unknown field \"chunk_idx\""

jq '.fields.language.default = "fr"' "$REPO/schemas/default.json" > "$T/default.json"
expect_refused "$T/default.json" "$T/default.json: fields.language.default: \"fr\" is not one of \"en\", \"es\""

jq '.collections.humor.from = "sergio_personality"' "$REPO/schemas/default.json" > "$T/route.json"
expect_refused "$T/route.json" "$T/route.json: collections.humor.from: never used: collection \"personality\" already takes every record of \"sergio_personality\""

jq '.collections.corpus.configuration = "l2"' "$REPO/schemas/default.json" > "$T/conf.json"
expect_refused "$T/conf.json" "$T/conf.json: collections.corpus.configuration: expected an object (a merge patch) or null"

expect_refused "$T/none.json" "$T/none.json: No such file or directory"

# Usage errors: exit 2 with the synopsis.
st=0
cdb-transform "$IN" > /dev/null 2> "$T/err" || st=$?
assert_eq 2 "$st" "no -s"
grep -q '^usage: cdb-transform ' "$T/err" || fail "usage not shown: $(cat "$T/err")"
st=0
cdb-transform -s "$REPO/schemas/default.json" --max-rejects x "$IN" > /dev/null 2> "$T/err" || st=$?
assert_eq 2 "$st" "--max-rejects x"
st=0
cdb-transform -s "$REPO/schemas/default.json" --frobnicate "$IN" > /dev/null 2>&1 || st=$?
assert_eq 2 "$st" "unknown option"
cdb-transform -h | grep -q '^usage: cdb-transform ' || fail "-h"
