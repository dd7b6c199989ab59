#!/bin/bash
# --max-missing: 120 of 3,000 records lost is 4% (under the default 5%),
# a WARNING (exit 3) by default, but FAILED with "Data Loss Detected" when
# more than 100 may not be lost; --max-data-loss still applies beside it.
# A target collection missing fails test 5 even when it holds no records.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/bulk.mjs" "$URL_old" docs 3000 16
create_collection "$URL_old" empty >/dev/null
cdb-export -q -u "$URL_old" > "$T/expected.ndjson"
cdb-import -q -u "$URL_new" "$T/expected.ndjson"
id=$(collection_id "$URL_new" docs)
ids=$(seq 0 25 2999 | awk '{ printf "%s\"docs-%07d\"", (NR > 1 ? "," : ""), $1 }')
api "$URL_new" "collections/$id/delete" "{\"ids\":[$ids]}" >/dev/null
assert_eq 2880 "$(api "$URL_new" "collections/$id/count")" "records left"

# validate ARGS...: run on the damaged copy, print "exit status reason".
validate() {
	local st=0
	cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
		--sample 20 --report-json "$T/r.json" "$@" || st=$?
	echo "$st $(jq -r '[.tests[0].status, .rollback_reason // "none",
		.tests[0].metrics.missing_records] | join(" ")' "$T/r.json")"
}

assert_eq "3 WARNING none 120" "$(validate)" "no count limit"
assert_eq "null" "$(jq .thresholds.max_missing_records "$T/r.json")" "no limit in the report"
assert_eq "1 FAILED Data Loss Detected 120" "$(validate --max-missing 100)" "--max-missing 100"
assert_eq 100 "$(jq .thresholds.max_missing_records "$T/r.json")" "limit in the report"
jq -r .tests[0].note "$T/r.json" | grep -q "120 of 3000, more than the 100 allowed" ||
	fail "note: $(jq -r .tests[0].note "$T/r.json")"
assert_eq "3 WARNING none 120" "$(validate --max-missing 120)" "exactly the limit"
# Whichever trips first: the percentage here.
assert_eq "1 FAILED Data Loss Detected 120" "$(validate --max-missing 1000 --max-data-loss 3)" \
	"percentage first"
assert_status 2 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" --max-missing -1

# A target collection the export holds, empty, missing from the new
# database: test 5 fails, and names a collection, not the lost records.
api_method DELETE "$URL_new" collections/empty >/dev/null
assert_eq "1 WARNING Chunk Count Mismatch 120" "$(validate)" "missing empty collection"
assert_eq "FAILED empty" "$(jq -r '.tests[4] | "\(.status) \(.offenders[0].collection)"' "$T/r.json")" \
	"test 5"
