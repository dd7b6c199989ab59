#!/bin/bash
# A migration that merges, splits by a condition, catches the rest, rewrites
# ids and changes a collection's space (tests/fixtures/routing-schema.json)
# passes when faithful, from the old server and from the expected stream;
# a record routed to the wrong side of the split is misplaced.
. "$(dirname "$0")/../lib.sh"

SCHEMA=$REPO/tests/fixtures/routing-schema.json

# old_talks (100, cosine), old_speeches (50, cosine, "num" for "n"),
# old_humor (120, l2, "words" on the first 100), old_misc (30, l2); 8
# dimensions from a deterministic hash of the record.
jq -nc '
def coll($n; $space; $c): {kind: "collection", name: $n, metadata: {v: 1},
	configuration: {hnsw: {space: $space}}, schema: null, dimension: 8, count: $c};
def emb($s): [range(8) as $k | ((($s * 7919 + $k * 104729) * 2654435761) % 1000003) / 500001.5 - 1];
def rec($c; $i; $s; $m): {kind: "record", collection: $c, id: "r\($i)",
	document: "\($c) \($i)", metadata: $m, embedding: emb($s), uri: null};
{kind: "header", format: "cdb-ndjson", version: 1, source: "http://generated",
	tenant: "default_tenant", database: "default_database",
	created: "2025-01-01T00:00:00Z", tool: "jq", embeddings: "float"},
coll("old_talks"; "cosine"; 100), coll("old_speeches"; "cosine"; 50),
coll("old_humor"; "l2"; 120), coll("old_misc"; "l2"; 30),
(range(100) as $i | rec("old_talks"; $i; $i; {n: "\($i)", extra: "x"})),
(range(50) as $i | rec("old_speeches"; $i; 1000 + $i; {num: $i})),
(range(120) as $i | rec("old_humor"; $i; 2000 + $i;
	{n: $i} + (if $i < 100 then {words: ($i % 40)} else {} end))),
(range(30) as $i | rec("old_misc"; $i; 3000 + $i; {n: $i}))
' | "$REPO/tests/fixtures/retrailer" > "$T/generated.ndjson"

start_server old
start_server new
cdb-import -q -u "$URL_old" "$T/generated.ndjson"
cdb-export -q -u "$URL_old" | cdb-transform -q -s "$SCHEMA" | tee "$T/expected.ndjson" |
	cdb-import -q -u "$URL_new"

statuses() { jq -r '[.tests[] | .status] | join(" ")' "$1"; }

assert_status 0 cdb-validate -q --old-url "$URL_old" --new-url "$URL_new" -s "$SCHEMA" \
	--sample 60 --report-json "$T/old.json"
assert_eq "PASSED PASSED PASSED PASSED PASSED PASSED PASSED PASSED" \
	"$(statuses "$T/old.json")" "routing from the old server"
assert_eq '["talks","short_jokes","long_jokes","archive"]' \
	"$(jq -c .collections "$T/old.json")" "target collections"
assert_eq '[300,300,0]' "$(jq -c '.tests[0].metrics |
	[.source_records, .expected_records, .missing_records]' "$T/old.json")" "counts"
# short_jokes searches by inner product, its source by l2: the old server
# cannot give its reference results, and says so.
[ "$(jq '.tests[3].metrics.queries_other_space' "$T/old.json")" -gt 0 ] ||
	fail "short_jokes queries compared: $(jq -c .tests[3] "$T/old.json")"
jq -r .tests[3].note "$T/old.json" | grep -q "space differs" ||
	fail "note: $(jq -r .tests[3].note "$T/old.json")"

# The expected stream gives exact references for every collection.
assert_status 0 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
	-s "$SCHEMA" --sample 60 --report-json "$T/x.json"
assert_eq "PASSED PASSED PASSED PASSED PASSED PASSED PASSED PASSED" \
	"$(statuses "$T/x.json")" "routing from the expected stream"
assert_eq '[60,0]' "$(jq -c '.tests[3].metrics | [.queries_compared, .queries_other_space]' \
	"$T/x.json")" "all queries compared"

# A long joke stored among the short ones, with its rewritten id.
api "$URL_new" "collections/$(collection_id "$URL_new" long_jokes)/get" \
	'{"ids":["old_humor/r39"],"include":["embeddings","documents","metadatas"]}' |
	jq -c '{ids, embeddings, documents, metadatas}' > "$T/r39.json"
api "$URL_new" "collections/$(collection_id "$URL_new" short_jokes)/add" "$(cat "$T/r39.json")" >/dev/null
api "$URL_new" "collections/$(collection_id "$URL_new" long_jokes)/delete" \
	'{"ids":["old_humor/r39"]}' >/dev/null
assert_status 1 cdb-validate -q --old-url "$URL_old" --new-url "$URL_new" -s "$SCHEMA" \
	--sample 0 --report-json "$T/moved.json"
assert_eq "Chunk Count Mismatch" "$(jq -r .rollback_reason "$T/moved.json")" "reason"
assert_eq 'old_humor/r39 belongs in "long_jokes", found in "short_jokes"' \
	"$(jq -r '.tests[4].offenders[0] | "\(.id) \(.problem)"' "$T/moved.json")" "misplaced"
