#!/bin/bash
# Hostile streams under a fresh, valid trailer (issue 12): cdb-transform
# checks embeddings as cdb-import does while still copying good ones byte
# for byte; a duplicate key is an error in every reader.  No server
# needed.
. "$(dirname "$0")/../lib.sh"

SCHEMA=$REPO/schemas/default.json
RETRAILER=$REPO/tests/fixtures/retrailer
# Header, one collection of dimension 3, one record the schema accepts.
head -n 2 "$REPO/tests/fixtures/transform-rejects.ndjson" > "$T/base"
sed -n 4p "$REPO/tests/fixtures/transform-rejects.ndjson" > "$T/rec"
GOOD='[0.1,-2.5,1e-30]'
grep -qF "\"embedding\":$GOOD" "$T/rec" || fail "fixture record changed"

# stream EMB: the base stream whose record carries the embedding text EMB.
stream() {
	printf '%s\n' "$1" > "$T/emb"
	{
		cat "$T/base"
		awk -v f="$T/emb" 'BEGIN { getline e < f }
			{ i = index($0, "\"embedding\":[0.1,-2.5,1e-30]")
			  print substr($0, 1, i + 11) e substr($0, i + 28) }' "$T/rec"
	} | "$RETRAILER"
}

# A good stream goes through, its embedding text unchanged.
stream "$GOOD" > "$T/in"
cdb-transform -q -s "$SCHEMA" "$T/in" > "$T/out"
grep -qF "\"embedding\":$GOOD," "$T/out" || fail "good embedding not copied verbatim"

# bad EMB PATTERN: the record's embedding is EMB; transform fails at line
# 3 (the record) with PATTERN, exit 1, and writes no trailer.
bad() {
	local emb=$1 pattern=$2 st=0
	stream "$emb" > "$T/in"
	cdb-transform -q -s "$SCHEMA" "$T/in" > "$T/out" 2> "$T/err" || st=$?
	assert_eq 1 "$st" "exit status for embedding $emb"
	grep -q "^cdb-transform: $T/in:3: .*$pattern" "$T/err" ||
		fail "embedding ${emb:0:40}: want line 3 and '$pattern', got: $(cat "$T/err")"
	if grep -q '"kind":"trailer"' "$T/out"; then
		fail "trailer written for embedding ${emb:0:40}"
	fi
}
bad '[0.5,NaN,0.25]' "embedding"
bad '[0.5,1e999,0.25]' "out of float32 range\|embedding"
bad '[0x1,0.5,0.25]' "embedding"
bad '["0.5",0.5,0.25]' "embedding"
bad '[0.5,0.25]' "embedding has 2 values, collection expects 3"
bad '[]' "embedding has no values"
bad '"AAAA*AAAAAAAAAAA"' "base64"
bad "\"AAAA$(printf '\xc3\xa9')AAAAAAAAAA\"" "base64"
# NaN, 0 and 0 as base64 little-endian float32.
bad '"AADAfwAAAAAAAAAA"' "embedding value at index 0 is not finite"
big=$(printf '0.5,%.0s' $(seq 70000))
bad "[${big}0.5]" "more than 65536 values"

# A duplicate key, whichever: an error, not the first or last one silently.
for dup in '"embedding":[1,2,3],' '"id":"other",' '"document":"x",' \
	'"metadata":{},' '"uri":null,'; do
	{
		cat "$T/base"
		sed "s/^{\"kind\":\"record\",/{\"kind\":\"record\",$dup/" "$T/rec"
	} | "$RETRAILER" > "$T/in"
	st=0
	cdb-transform -q -s "$SCHEMA" "$T/in" > /dev/null 2> "$T/err" || st=$?
	assert_eq 1 "$st" "exit status with duplicate $dup"
	grep -q "^cdb-transform: $T/in:3: .*duplicate object key" "$T/err" ||
		fail "duplicate $dup: $(cat "$T/err")"
done
