#!/bin/bash
# Test 4 still catches what a migration does to search: a much weaker HNSW
# configuration (the recall lost against the old database), another
# distance space (test 5, reason: search).  A queries file may name
# records by id (their stored vector) and hold full-text queries
# ($contains, compared as result sets); a line that is neither, or an id
# of no record, is an error (exit 2).
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/vecs.mjs" vecs 2000 32 | "$REPO/tests/fixtures/retrailer" |
	cdb-import -q -u "$URL_old"
cdb-export -q -u "$URL_old" > "$T/export.ndjson"
cdb-import -q -u "$URL_new" "$T/export.ndjson"

# restream SED: the export with its collection line edited.
restream() {
	sed "/^{\"kind\":\"collection\"/$1" "$T/export.ndjson" | "$REPO/tests/fixtures/retrailer"
}
# verdict URL ARGS...: "exit status, failed tests, rollback reason".
verdict() {
	local url=$1 st=0
	shift
	cdb-validate -q --old-url "$URL_old" --new-url "$url" --report-json "$T/r.json" "$@" || st=$?
	echo "$st $(jq -r '[([.tests[] | select(.status == "FAILED") | .key] | join(",")),
		.rollback_reason // "none"] | join(" ")' "$T/r.json")"
}

# The faithful copy, with a queries file of every kind.
cat > "$T/q.ndjson" <<'Q'
{"collection":"vecs","id":"vecs-0000007"}
{"collection":"vecs","id":"vecs-0001999"}
{"collection":"vecs","text":"chunk 12"}
{"collection":"vecs","text":"of vecs","id":"everything"}

{"collection":"vecs","embedding":[1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}
Q
assert_eq "0  none" "$(verdict "$URL_new" --queries "$T/q.ndjson")" "faithful copy"
assert_eq '[5,3,3,2,0]' "$(jq -c '.tests[3].metrics | [.queries, .queries_compared,
	.queries_with_baseline, .text_queries, .text_queries_differ]' "$T/r.json")" "queries file"
# The same from the export: ids are looked up there.
assert_status 0 cdb-validate -q --expected "$T/export.ndjson" --new-url "$URL_new" \
	--queries "$T/q.ndjson"
# A document changed: test 3 fails, and the text query "chunk 12" no
# longer finds it.
cid=$(collection_id "$URL_new" vecs)
api "$URL_new" "collections/$cid/update" '{"ids":["vecs-0000012"],"documents":["changed"]}' >/dev/null
assert_eq "1 metadata_completeness,semantic_search_equivalence Schema Violation" \
	"$(verdict "$URL_new" --queries "$T/q.ndjson")" "changed document"
jq -r '.tests[3].offenders[0].problem' "$T/r.json" | grep -q '^text "chunk 12": 111 expected matches, the new database gives 110: 1 missing' ||
	fail "text offender: $(jq -c .tests[3].offenders "$T/r.json")"

# Bad queries files.
echo '{"collection":"vecs"}' > "$T/bad.ndjson"
assert_status 2 cdb-validate -q --expected "$T/export.ndjson" --new-url "$URL_new" \
	--queries "$T/bad.ndjson" 2> "$T/err"
grep -q 'bad.ndjson:1: a query is an object with "collection" and one of "embedding", "id"' "$T/err" ||
	fail "neither: $(cat "$T/err")"
printf '{"collection":"vecs","id":"vecs-0000001"}\n{"collection":"vecs","id":"nope"}\n' > "$T/bad.ndjson"
for from in "--expected $T/export.ndjson" "--old-url $URL_old"; do
	# shellcheck disable=SC2086
	assert_status 2 cdb-validate -q $from --new-url "$URL_new" --queries "$T/bad.ndjson" 2> "$T/err"
	grep -q 'bad.ndjson:2: "nope" is the id of no expected record of collection "vecs"' "$T/err" ||
		fail "unknown id ($from): $(cat "$T/err")"
done

# A much weaker index: the recall lost against the old database fails.
start_server weak
restream 's/"ef_construction":100,"ef_search":100,"max_neighbors":16/"ef_construction":4,"ef_search":1,"max_neighbors":2/' |
	cdb-import -q -u "$URL_weak"
assert_eq "1 semantic_search_equivalence Search Results Diverged" "$(verdict "$URL_weak")" "weak index"
awk -v l="$(jq .semantic_divergence_percentage "$T/r.json")" 'BEGIN { exit !(l > 20) }' ||
	fail "loss: $(jq -c .tests[3].metrics "$T/r.json")"
# Without the old server there is no recall to lose, but the index is not
# the one the export describes: a WARNING that says how.
assert_status 3 cdb-validate -q --expected "$T/export.ndjson" --new-url "$URL_weak" \
	--report-json "$T/w.json"
jq -r '.warnings[0]' "$T/w.json" | grep -q '^collection "vecs" searches with another index configuration than the expected one: ef_search 1, the mapping.s 100' ||
	fail "weak index warning: $(jq -c .warnings "$T/w.json")"

# Another distance space.
start_server ip
restream 's/"space":"l2"/"space":"ip"/g' | cdb-import -q -u "$URL_ip"
r=$(verdict "$URL_ip")
assert_eq "1 Search Results Diverged" "${r%% *} ${r#* * }" "another space: $r"
jq -r '.tests[4].offenders[0].problem' "$T/r.json" | grep -q 'collection has space ip, the mapping gives l2' ||
	fail "space: $(jq -c .tests[4] "$T/r.json")"
