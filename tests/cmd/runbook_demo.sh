#!/bin/bash
# The README's demo end to end (examples/demo.sh, which runs
# examples/migrate.sh twice): a migration that validates PASSED and is cut
# over, then the same migration against a damaged target, which validates
# FAILED and is rolled back to the snapshot.  Then the decisions the demo
# does not show: a rerun after the rollback migrates again (PASSED); a
# small loss only WARNS (exit 3) and changes nothing, and the roll-back
# command it prints works; a rerun with another schema is refused.
#
# What differs from the README's demo: --small (1,000 records of 32
# dimensions from tests/fixtures/validate-old.mjs instead of gen-demo.mjs's
# 9,832 of 384, to keep the suite fast), --no-setup (CI has installed and
# built), and the servers are this test's (lib.sh starts and stops them).
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
M=$T/demo/migration

"$REPO/examples/demo.sh" --small --no-setup --dir "$T/demo" \
	--old "$URL_old" --new "$URL_new" >"$T/demo.out" 2>&1 ||
	fail "demo failed: $(tail -n 40 "$T/demo.out")"

# The two decisions, in the journal and the reports.
assert_eq "PASSED, cut over|FAILED, rolled back" \
	"$(sed 's/^[^ ]* \([^:]*\):.*/\1/' "$M/MIGRATION.log" | paste -sd '|')" "MIGRATION.log"
grep -q '^\*\*Overall status: PASSED\*\*' "$M/validation_report.passed.md" ||
	fail "first validation: $(head -n 5 "$M/validation_report.passed.md")"
assert_eq '"FAILED" true "Data Loss Detected"' \
	"$(jq -r '[.overall_status, .rollback_triggered, .rollback_reason] | map(tojson) | join(" ")' \
		"$M/validation_report.json")" "second validation"
grep -q 'cut over: point the application from' "$M/cutover.log" || fail "no cutover step"
jq -e '.status == "RESTORED" and .verified == true' "$M/rollback_report.json" >/dev/null ||
	fail "rollback report: $(jq -c '{status, verified, error}' "$M/rollback_report.json")"

# The PASSED migration had landed everything: the archive of the failed
# state holds the four target collections in full, but for the quarter of
# corpus the demo deleted, next to the collection that was there before.
assert_eq 'corpus 188,humor 250,personality 250,rhetorical 250,sergio_humor 250' \
	"$(cdb-rollback list --json "$M"/failed-*.tar.gz |
		jq -r '[.collections[] | "\(.name) \(.count)"] | join(",")')" "archived failed state"

# After the rollback the new server is as before the migration: only its
# own collection, record for record the old server's sergio_humor, which it
# was copied from (independent of the snapshot the demo compared with).
assert_eq sergio_humor "$(api "$URL_new" collections | jq -r '.[].name' | xargs)" \
	"collections after the rollback"
records() {
	cdb-export -q -u "$1" --embeddings base64 sergio_humor |
		jq -cS 'select(.kind == "record")' | LC_ALL=C sort
}
cmp -s <(records "$URL_old") <(records "$URL_new") ||
	fail "sergio_humor after the rollback differs from the original"

# A rerun after the rollback migrates again, into the restored database.
MIGRATE=("$REPO/examples/migrate.sh" --old "$URL_old" --new "$URL_new"
	-s "$REPO/schemas/default.json" --log-dir "$M")
assert_status 0 "${MIGRATE[@]}" 2>"$T/rerun.err"
grep -q 'cdb-import: 1000 records in 4 collections (4 new)' "$M/import.log" ||
	fail "rerun did not import again: $(tail -n 5 "$M/import.log")"

# Two records lost out of 1,000 is under the 5% loss threshold: a WARNING,
# a stop for review, and nothing rolled back.
id=$(collection_id "$URL_new" personality)
api "$URL_new" "collections/$id/delete" \
	'{"ids": ["sergio_personality-00003", "sergio_personality-00007"]}' >/dev/null
assert_status 3 "${MIGRATE[@]}" 2>"$T/warn.err"
assert_eq '"WARNING" false' \
	"$(jq -r '[.overall_status, .rollback_triggered] | map(tojson) | join(" ")' \
		"$M/validation_report.json")" "validation of a small loss"
grep -q 'REVIEW: validation WARNING' "$T/warn.err" || fail "no review step: $(tail -n 5 "$T/warn.err")"
assert_eq 248 "$(api "$URL_new" "collections/$id/count")" "records after the WARNING"
assert_eq "WARNING, stopped for review" "$(tail -n 1 "$M/MIGRATION.log" | sed 's/^[^ ]* \([^:]*\):.*/\1/')" \
	"journal of the WARNING"

# The roll-back command the review step prints works as printed.
cmd=$(sed -n 's/.*\[review\]   \(cdb-rollback restore .*\)/\1/p' "$T/warn.err")
[ -n "$cmd" ] || fail "no rollback command printed: $(cat "$T/warn.err")"
(cd "$T" && eval "$cmd") >"$T/manual.out" 2>&1 || fail "printed rollback failed: $(cat "$T/manual.out")"
assert_eq sergio_humor "$(api "$URL_new" collections | jq -r '.[].name' | xargs)" \
	"collections after the rollback by hand"

# A rerun with another schema is refused: the checkpoints belong to this one.
sed 's/"schema_version"/"schema_version" /' "$REPO/schemas/default.json" >"$T/other.json"
assert_status 2 "$REPO/examples/migrate.sh" --old "$URL_old" --new "$URL_new" \
	-s "$T/other.json" --log-dir "$M" 2>/dev/null
