#!/bin/bash
# Validation against the frozen export: with --expected and --old-url the
# new database is judged against the export, and the old server is only
# the search reference of test 4 (its recall is the baseline).  Changes to
# the old server after the export never fail the new database.  Several
# --expected files (shards of one export) are one expected set.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/bulk.mjs" "$URL_old" docs 600 16
node "$REPO/tests/fixtures/bulk.mjs" "$URL_old" notes 300 8 cosine
cdb-export -q -u "$URL_old" > "$T/expected.ndjson"
cdb-import -q -u "$URL_new" "$T/expected.ndjson"

# validate ARGS...: "exit status overall_status queries_with_baseline".
validate() {
	local st=0
	cdb-validate -q --new-url "$URL_new" --sample 30 --report-json "$T/r.json" "$@" || st=$?
	echo "$st $(jq -r '[.overall_status, .tests[3].metrics.queries_with_baseline] |
		join(" ")' "$T/r.json")"
}

assert_eq "0 PASSED 30" "$(validate --expected "$T/expected.ndjson" --old-url "$URL_old")" \
	"frozen export and old server"
assert_eq '["file","old-server"]' "$(jq -c '[.expected.from, (.old_server | if . then "old-server" else null end)]' \
	"$T/r.json")" "report says where each comes from"
[ "$(jq .tests[3].metrics.recall_old_percentage "$T/r.json")" != null ] ||
	fail "no baseline recall: $(jq -c .tests[3].metrics "$T/r.json")"

# The old server changes after the export: records deleted, added,
# re-embedded.  The new database is still judged against the export.
did=$(collection_id "$URL_old" docs)
ids=$(seq 0 3 599 | awk '{ printf "%s\"docs-%07d\"", (NR > 1 ? "," : ""), $1 }')
api "$URL_old" "collections/$did/delete" "{\"ids\":[$ids]}" >/dev/null
node "$REPO/tests/fixtures/bulk.mjs" "$URL_old" later 50 16
nid=$(collection_id "$URL_old" notes)
api "$URL_old" "collections/$nid/update" \
	'{"ids":["notes-0000001","notes-0000002"],"embeddings":[[1,0,0,0,0,0,0,0],[0,1,0,0,0,0,0,0]]}' >/dev/null
assert_eq "0 PASSED 30" "$(validate --expected "$T/expected.ndjson" --old-url "$URL_old")" \
	"old server changed since the export"
assert_eq 900 "$(jq .tests[0].metrics.expected_records "$T/r.json")" "expected from the export"
# Judged from the old server alone, the same new database is wrong now.
assert_eq 1 "$(validate --old-url "$URL_old" | cut -d' ' -f1)" "live old server"

# Shards of one export: three streams, each with every collection line and
# a third of the records, are one expected set.
grep -v '"kind":"record"' "$T/expected.ndjson" | grep -v '"kind":"trailer"' > "$T/head"
for k in 0 1 2; do
	{ cat "$T/head"; grep '"kind":"record"' "$T/expected.ndjson" | awk -v k=$k 'NR % 3 == k'; } |
		"$REPO/tests/fixtures/retrailer" > "$T/shard-$k.ndjson"
done
assert_eq "0 PASSED 0" "$(validate --expected "$T"/shard-*.ndjson)" "three shards"
assert_eq '[900,900,0,3]' "$(jq -c '[.tests[0].metrics.expected_records,
	.tests[0].metrics.found_records, .tests[0].metrics.missing_records,
	(.expected.files | length)]' "$T/r.json")" "shards counted once"
# Two shards are not the export: a third of the records is unexpected.
assert_eq 1 "$(validate --expected "$T/shard-0.ndjson" --expected "$T/shard-1.ndjson" |
	cut -d' ' -f1)" "a shard left out"
