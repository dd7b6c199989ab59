#!/bin/bash
# Deliberately broken migrations, one at a time, each fail the right test
# with the right rollback reason, and nothing else fails that should not:
# 6% of the records deleted, one embedding altered (l2 and cosine) or
# turned into NaN, a required field removed, a value of the wrong type, a record duplicated
# under a new id, a dangling reference, one collection's records moved into
# another.  Smaller damage warns (exit 3) unless the threshold says fail.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/validate-old.mjs" "$URL_old" >/dev/null
cdb-export -q -u "$URL_old" |
	cdb-transform -q -s "$REPO/schemas/default.json" > "$T/expected.ndjson"

# fresh: the new database as a faithful migration leaves it.
fresh() {
	local c
	for c in personality rhetorical humor corpus; do
		api_method DELETE "$URL_new" "collections/$c" >/dev/null 2>&1 || true
	done
	cdb-import -q -u "$URL_new" "$T/expected.ndjson"
}

# check CASE STATUS "FAILED TESTS" "REASON" [cdb-validate options]: damage a
# fresh migration with validate-break.mjs CASE, validate it, and check the
# exit status, the tests that did not pass and the rollback reason.
check() {
	local what=$1 want=$2 tests=$3 reason=$4 st=0 got
	shift 4
	fresh
	node "$REPO/tests/fixtures/validate-break.mjs" "$URL_new" "$what" > "$T/$what.did"
	cdb-validate -q --old-url "$URL_old" --new-url "$URL_new" \
		-s "$REPO/schemas/default.json" --report-json "$T/$what.json" "$@" || st=$?
	assert_eq "$want" "$st" "$what: exit status"
	got=$(jq -r '[.tests[] | select(.status == "FAILED") | .key] | join(" ")' "$T/$what.json")
	assert_eq "$tests" "$got" "$what: failed tests"
	got=$(jq -r '.rollback_reason // "none"' "$T/$what.json")
	assert_eq "$reason" "$got" "$what: rollback reason"
	assert_eq "$([ "$want" = 1 ] && echo true || echo false)" \
		"$(jq .rollback_triggered "$T/$what.json")" "$what: rollback_triggered"
}

# offender CASE TEST: the first offending id test number TEST lists.
offender() {
	jq -r ".tests[$(($2 - 1))].offenders[0].id" "$T/$1.json"
}

check delete-6pct 1 count_verification "Data Loss Detected"
assert_eq 6.25 "$(jq .data_loss_percentage "$T/delete-6pct.json")" "data loss"
assert_eq 30 "$(jq .tests[0].offending_total "$T/delete-6pct.json")" "lost records listed"
assert_eq 20 "$(jq '.tests[0].offenders | length' "$T/delete-6pct.json")" "at most 20 ids"
# ... which a looser threshold only warns about.
check delete-6pct 3 "" none --max-data-loss 7
assert_eq WARNING "$(jq -r .tests[0].status "$T/delete-6pct.json")" "loss under the threshold"

# Lost records that others cite: the references dangle because the records
# were lost, so the reason names the loss although test 1 only warns.
check delete-cited 1 citation_references "Data Loss Detected"
assert_eq WARNING "$(jq -r .tests[0].status "$T/delete-cited.json")" "a small loss"
[ "$(jq .tests[0].metrics.missing_records "$T/delete-cited.json")" -gt 0 ] ||
	fail "nothing lost: $(cat "$T/delete-cited.did")"
check alter-embedding 1 embedding_integrity "Embedding Corruption"
assert_eq "$(cat "$T/alter-embedding.did")" "$(offender alter-embedding 2)" "altered id"
check alter-cosine 1 embedding_integrity "Embedding Corruption"
assert_eq "$(cat "$T/alter-cosine.did")" "$(offender alter-cosine 2)" "altered cosine id"

# A vector the server holds as NaN (it sends nulls) is a finding, not a
# reason to give up.
check nan-embedding 1 embedding_integrity "Embedding Corruption"
jq -r '.tests[1].offenders[0] | "\(.id) \(.problem)"' "$T/nan-embedding.json" |
	grep -q "^$(cat "$T/nan-embedding.did") embedding holds NaN" ||
	fail "nan: $(jq -c .tests[1].offenders "$T/nan-embedding.json")"

check drop-field 1 metadata_completeness "Schema Violation"
assert_eq 5 "$(jq .tests[2].offending_total "$T/drop-field.json")" "records without title"
jq -r '.tests[2].offenders[0].problem' "$T/drop-field.json" | grep -q 'field "title" is missing' ||
	fail "drop-field: $(jq -c .tests[2].offenders[0] "$T/drop-field.json")"

check wrong-type 1 field_type_validation "Schema Violation"
assert_eq 3 "$(jq .tests[6].offending_total "$T/wrong-type.json")" "records with a string"
jq -r '.tests[6].offenders[0].problem' "$T/wrong-type.json" | grep -q 'chunk_index.*is a string, not int' ||
	fail "wrong-type: $(jq -c .tests[6].offenders[0] "$T/wrong-type.json")"

# The copy also carries the original's citation, which names another record.
check duplicate 1 "duplicate_detection citation_references" "Duplicate IDs Found"
assert_eq "$(cat "$T/duplicate.did")" "$(offender duplicate 6)" "duplicate id"
assert_eq 1 "$(jq .tests[5].metrics.duplicate_content_records "$T/duplicate.json")" "copies"

check dangling 1 citation_references "Schema Violation"
jq -r '.tests[7].offenders[0].problem' "$T/dangling.json" |
	grep -q 'sergio_corpus-99999" is the id of no record in collection "corpus"' ||
	fail "dangling: $(jq -c .tests[7].offenders[0] "$T/dangling.json")"

# Moved records also make the searches in both collections diverge.
check move 1 "semantic_search_equivalence collection_distribution" "Chunk Count Mismatch"
assert_eq '[120,0,0,"WARNING",2]' "$(jq -c '[.tests[4].metrics.misplaced_records,
	.tests[0].metrics.missing_records, .data_loss_percentage, .tests[0].status,
	.tests[0].metrics.collections_with_other_counts]' "$T/move.json")" "moved, not lost"
jq -r '.tests[4].offenders[0].problem' "$T/move.json" | grep -q 'belongs in "humor", found in "corpus"' ||
	fail "move: $(jq -c .tests[4].offenders[0] "$T/move.json")"
