#!/bin/bash
# Collection mapping through a real server (tests/fixtures/routing-schema.json):
# two sources merged into one target with rewritten ids, one source split
# by a metadata condition into two targets (one with a new HNSW space),
# a catch-all for the rest, unknown fields kept; then an id template that
# makes merged ids collide, caught and filed.
. "$(dirname "$0")/../lib.sh"

SCHEMA=$REPO/tests/fixtures/routing-schema.json

# A generated old deployment: old_talks (100, cosine), old_speeches (50,
# cosine, "num" instead of "n"), old_humor (120, l2: "words" on the first
# 100), old_misc (30, l2).
jq -nc '
def coll($n; $space; $c): {kind: "collection", name: $n, metadata: {v: 1},
	configuration: {hnsw: {space: $space}}, schema: null, dimension: 4, count: $c};
def rec($c; $i; $m): {kind: "record", collection: $c, id: "r\($i)", document: "\($c) \($i)",
	metadata: $m, embedding: [1, ($i % 8) / 8, -0.5, 0.25], uri: null};
{kind: "header", format: "cdb-ndjson", version: 1, source: "http://generated",
	tenant: "default_tenant", database: "default_database",
	created: "2025-01-01T00:00:00Z", tool: "jq", embeddings: "float"},
coll("old_talks"; "cosine"; 100), coll("old_speeches"; "cosine"; 50),
coll("old_humor"; "l2"; 120), coll("old_misc"; "l2"; 30),
(range(100) as $i | rec("old_talks"; $i; {n: "\($i)", extra: "x"})),
(range(50) as $i | rec("old_speeches"; $i; {num: $i})),
(range(120) as $i | rec("old_humor"; $i;
	{n: $i} + (if $i < 100 then {words: ($i % 40)} else {} end))),
(range(30) as $i | rec("old_misc"; $i; {n: $i}))
' | "$REPO/tests/fixtures/retrailer" > "$T/old.ndjson"

start_server new
st=0
cdb-transform -s "$SCHEMA" "$T/old.ndjson" 2> "$T/err" | cdb-import -q -u "$URL_new" || st=$?
assert_eq 0 "$st" "transform | import: $(cat "$T/err")"

count() { api "$URL_new" "collections/$(collection_id "$URL_new" "$1")/count"; }
assert_eq 150 "$(count talks)" "talks: both sources merged"
assert_eq 60 "$(count short_jokes)" "short_jokes: words < 20"
assert_eq 40 "$(count long_jokes)" "long_jokes: words >= 20"
assert_eq 50 "$(count archive)" "archive: old_misc and humor without words"

cdb-export -q -u "$URL_new" | sed 's/"embedding":\[[^]]*\]/"embedding":null/' > "$T/landed"
assert_eq 'archive {"archived":true} l2
long_jokes {"v":1} l2
short_jokes {"v":1} ip
talks {"kind":"talks","v":1} cosine' \
	"$(jq -r 'select(.kind=="collection") | "\(.name) \(.metadata | to_entries | sort_by(.key) | from_entries | tojson) \(.configuration.hnsw.space)"' \
		"$T/landed" | sort)" "target collections"

# Ids rewritten by the template; metadata as the schema builds it.
# Keys sorted: the server need not keep their order.
rec() { jq -S -c --arg id "$1" 'select(.id == $id) | [.collection, .metadata]' "$T/landed"; }
assert_eq '["talks",{"extra":"x","label":"talks:7","n":7,"origin":"old_talks"}]' \
	"$(rec old_talks/r7)" "a talk"
assert_eq '["talks",{"label":"talks:7","n":7,"origin":"old_speeches"}]' \
	"$(rec old_speeches/r7)" "a speech: n from num"
assert_eq '["short_jokes",{"label":"short_jokes:45","n":45,"origin":"old_humor","words":5}]' \
	"$(rec old_humor/r45)" "a short joke"
assert_eq '["long_jokes",{"label":"long_jokes:39","n":39,"origin":"old_humor","words":39}]' \
	"$(rec old_humor/r39)" "a long joke"
assert_eq '["archive",{"label":"archive:110","n":110,"origin":"old_humor"}]' \
	"$(rec old_humor/r110)" "humor without words: the catch-all"
assert_eq '["archive",{"label":"archive:3","n":3,"origin":"old_misc"}]' \
	"$(rec old_misc/r3)" "misc: the catch-all"
assert_eq 0 "$(jq -r 'select(.kind=="record") | .id' "$T/landed" | grep -vc /)" "ids not rewritten"

# An id template that makes the merged sources collide: each collision
# is rejected and filed, the rest goes on, exit 4.
jq '.id = "n{n}"' "$SCHEMA" > "$T/collide.json"
st=0
cdb-transform -q -s "$T/collide.json" --rejects "$T/rej" "$T/old.ndjson" > "$T/out" || st=$?
assert_eq 4 "$st" "exit status with collisions"
assert_eq 50 "$(wc -l < "$T/rej")" "speeches colliding with talks"
assert_eq "id collision" "$(jq -r .reason "$T/rej" | sort -u)" "reason"
assert_eq 'target id "n0" is already used in collection "talks" by an earlier record' \
	"$(jq -r 'select(.id=="r0") | .message' "$T/rej")" "collision message"
assert_eq 250 "$(grep -c '"kind":"record"' "$T/out")" "records written"
