#!/bin/bash
# A bit-exact copy of 20,000 random 768-dimension vectors PASSES every
# test, test 4 included, validated from the old server with no schema (a
# straight copy) and from the export: test 4 scores both databases against
# an exact search, so the two HNSW indexes' own disagreement (about a third
# of the top 10 at this size) is no finding.  The same copy with 30
# embeddings moved by 1e-3 FAILS test 2.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/vecs.mjs" vecs 20000 768 | "$REPO/tests/fixtures/retrailer" |
	cdb-import -q -u "$URL_old"
cdb-export -q -u "$URL_old" | tee "$T/export.ndjson" | cdb-import -q -u "$URL_new"

# validate ARGS...: "exit status overall status, statuses of the tests".
validate() {
	local st=0
	cdb-validate -q --new-url "$URL_new" --report-json "$T/r.json" "$@" || st=$?
	echo "$st $(jq -r '[.overall_status, (.tests[] | .status)] | join(" ")' "$T/r.json")"
}
passed="0 PASSED PASSED PASSED PASSED PASSED PASSED PASSED PASSED SKIPPED"

assert_eq "$passed" "$(validate --old-url "$URL_old")" "straight copy, from the old server"
m=$(jq -c '.tests[3].metrics' "$T/r.json")
assert_eq '[100,100]' "$(jq -c '[.queries_compared, .queries_with_baseline]' <<< "$m")" \
	"test 4 from the old server: $m"
# The two indexes disagree, and neither finds every exact neighbour: that
# is what the old test 4 failed.  Both are scored; what the copy lost is
# noise, under the 10% that would warn.
awk -v r="$(jq .recall_new_percentage <<< "$m")" -v o="$(jq .mean_overlap_percentage <<< "$m")" \
	-v l="$(jq .semantic_divergence_percentage <<< "$m")" \
	'BEGIN { exit !(r > 20 && r < 100 && o < 95 && l < 10) }' || fail "recall and overlap: $m"
assert_eq "not applicable" "$(jq -r .tests[7].skipped "$T/r.json")" "test 8 without a schema"

assert_eq "$passed" "$(validate --expected "$T/export.ndjson")" "from the export alone"
assert_eq null "$(jq .semantic_divergence_percentage "$T/r.json")" "no baseline without the old server"
assert_eq "$passed" "$(validate --expected "$T/export.ndjson" --old-url "$URL_old")" "export and old server"

# 30 embeddings moved by 1e-3 in every component.
node "$REPO/tests/fixtures/nudge.mjs" "$URL_new" vecs 30 0.001 > "$T/moved"
assert_eq 30 "$(wc -l < "$T/moved")" "moved"
r=$(validate --expected "$T/export.ndjson" --old-url "$URL_old")
assert_eq "1 FAILED" "${r%% PASSED *}" "moved embeddings: $r"
assert_eq '["embedding_integrity"] Embedding Corruption 30' "$(jq -r '[([.tests[] |
	select(.status == "FAILED") | .key] | tostring), .rollback_reason,
	.tests[1].offending_total] | join(" ")' "$T/r.json")" "test 2 names them"
