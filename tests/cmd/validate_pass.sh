#!/bin/bash
# A faithful migration (cdb-export | cdb-transform -s schemas/default.json |
# cdb-import) passes all eight tests, from the old server and from the saved
# expected stream, with sampled queries and with a queries file; the JSON
# and Markdown reports say so; a test that cannot run makes a WARNING.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/validate-old.mjs" "$URL_old" >/dev/null
cdb-export -q -u "$URL_old" |
	cdb-transform -q -s "$REPO/schemas/default.json" | tee "$T/expected.ndjson" |
	cdb-import -q -u "$URL_new"

# tests_status REPORT: "key:STATUS ..." for every test, in order.
tests_status() {
	jq -r '[.tests[] | .key + ":" + .status] | join(" ")' "$1"
}
all_passed="count_verification:PASSED embedding_integrity:PASSED metadata_completeness:PASSED semantic_search_equivalence:PASSED collection_distribution:PASSED duplicate_detection:PASSED field_type_validation:PASSED citation_references:PASSED"

# From the old server through the schema.
assert_status 0 cdb-validate --old-url "$URL_old" --new-url "$URL_new" \
	-s "$REPO/schemas/default.json" --sample 40 \
	--report-json "$T/r.json" --report-md "$T/r.md" 2> "$T/err"
assert_eq "$all_passed" "$(tests_status "$T/r.json")" "tests of a faithful migration"
r=$(jq -c '[.overall_status, .rollback_triggered, .rollback_reason,
	.data_loss_percentage, .semantic_divergence_percentage, .collections]' "$T/r.json")
assert_eq '["PASSED",false,null,0,0,["personality","rhetorical","humor","corpus"]]' "$r" "verdict"
assert_eq '[480,480,0,0]' "$(jq -c '.tests[0].metrics |
	[.expected_records, .found_records, .missing_records, .unexpected_records]' "$T/r.json")" \
	"counts"
# Every record's embedding was compared, cosine collections included.
assert_eq 480 "$(jq '.tests[1].metrics.checked' "$T/r.json")" "embeddings checked"
assert_eq 40 "$(jq '.tests[3].metrics.queries_compared' "$T/r.json")" "queries compared"
# References and citations were really looked at.
[ "$(jq '.tests[7].metrics.references_checked' "$T/r.json")" -gt 50 ] ||
	fail "few references checked: $(jq -c '.tests[7].metrics' "$T/r.json")"
assert_eq 480 "$(jq '.tests[7].metrics.citations_checked' "$T/r.json")" "citations checked"
grep -q '^\*\*Overall status: PASSED\*\*' "$T/r.md" || fail "markdown verdict: $(head -3 "$T/r.md")"
grep -q '^| 8 | Citation references | \*\*PASSED\*\* |' "$T/r.md" || fail "markdown summary table"
grep -q '^Overall status: PASSED$' "$T/err" || fail "stderr summary: $(cat "$T/err")"
grep -q '^Rollback triggered: NO$' "$T/err" || fail "stderr summary: $(cat "$T/err")"

# The same from the saved stream, without the old server.
assert_status 0 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
	-s "$REPO/schemas/default.json" --report-json "$T/x.json"
assert_eq "$all_passed" "$(tests_status "$T/x.json")" "tests from the expected stream"
assert_eq 100 "$(jq '.tests[3].metrics.queries_compared' "$T/x.json")" "default sample"

# A queries file (document format of cdb-validate(1)): 3 per collection.
jq -c 'select(.kind=="record") | {collection, id: ("q-" + .id), embedding}' \
	"$T/expected.ndjson" | awk -F'"collection":' '{ split($2, a, ","); if (n[a[1]]++ < 3) print }' \
	> "$T/queries.ndjson"
assert_eq 12 "$(wc -l < "$T/queries.ndjson")" "queries written"
assert_status 0 cdb-validate -q --old-url "$URL_old" --new-url "$URL_new" \
	-s "$REPO/schemas/default.json" --queries "$T/queries.ndjson" --report-json "$T/q.json"
assert_eq '[12,12,100]' "$(jq -c '.tests[3].metrics |
	[.queries, .queries_compared, .mean_overlap_percentage]' "$T/q.json")" "queries file"

# Without a schema the citation test does not apply: it does not lower
# the verdict, nor does test 4 turned off with --sample 0.
assert_status 0 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
	--report-json "$T/w.json"
assert_eq "PASSED:false:SKIPPED:not applicable" "$(jq -r '[.overall_status, .rollback_triggered,
	.tests[7].status, .tests[7].skipped] | map(tostring) | join(":")' "$T/w.json")" "no schema"
assert_status 0 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
	-s "$REPO/schemas/default.json" --sample 0 --report-json "$T/w.json"
assert_eq "SKIPPED on request null" "$(jq -r '"\(.tests[3].status) \(.tests[3].skipped) \(.semantic_divergence_percentage)"' "$T/w.json")" \
	"--sample 0"

# Credentials never reach a report or a message.
url_with_pw=${URL_new/http:\/\//http://admin:s3cr3t@}
CHROMA_TOKEN=tok-abc123 cdb-validate --old-url "$URL_old" --new-url "$url_with_pw" \
	-s "$REPO/schemas/default.json" --report-json "$T/c.json" --report-md "$T/c.md" 2> "$T/err"
if grep -l -e s3cr3t -e tok-abc123 "$T/c.json" "$T/c.md" "$T/err"; then
	fail "a credential was written"
fi
assert_eq "$URL_new" "$(jq -r .new_server.url "$T/c.json")" "redacted URL"

# Checking a stream with another schema than the one that made it is a
# doubt worth a WARNING, whatever the tests say.
jq '.description = "edited since"' "$REPO/schemas/default.json" > "$T/edited.json"
assert_status 3 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_new" \
	-s "$T/edited.json" --sample 10 --report-json "$T/e.json"
jq -r '.warnings[0]' "$T/e.json" | grep -q '^the expected stream was made with schema xxh64:' ||
	fail "schema warning: $(jq -c .warnings "$T/e.json")"
assert_eq 0 "$(jq '.summary.warnings' "$T/e.json")" "no test warned"

# Records the schema rejects are not expected, but worth a WARNING: here a
# schema where "language" has no default rejects the records without one,
# and the migration kept the rest (cdb-transform --rejects).  (Without
# "derived_from": references to rejected records would dangle, test 8.)
jq 'del(.fields.language.default) | del(.fields.derived_from)' \
	"$REPO/schemas/default.json" > "$T/strict.json"
start_server strict
cdb-export -q -u "$URL_old" |
	cdb-transform -q -s "$T/strict.json" --rejects "$T/rejects.ndjson" |
	cdb-import -q -u "$URL_strict" || [ $? -eq 4 ]
nrej=$(wc -l < "$T/rejects.ndjson")
[ "$nrej" -gt 0 ] || fail "the strict schema rejected nothing"
assert_status 3 cdb-validate -q --old-url "$URL_old" --new-url "$URL_strict" \
	-s "$T/strict.json" --sample 10 --report-json "$T/strict-r.json"
assert_eq "WARNING $nrej $((480 - nrej)) 0" "$(jq -r '.tests[0] | "\(.status) \(.metrics.rejected_by_schema) \(.metrics.expected_records) \(.metrics.missing_records)"' \
	"$T/strict-r.json")" "rejected records"
jq -r '.tests[0].offenders[0].problem' "$T/strict-r.json" |
	grep -q 'the schema rejects this source record: field "language"' ||
	fail "reject shown: $(jq -c '.tests[0].offenders[0]' "$T/strict-r.json")"
