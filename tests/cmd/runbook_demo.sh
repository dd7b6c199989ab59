#!/bin/bash
# The README's demo end to end (examples/demo.sh, which runs
# examples/migrate.sh twice): a migration that validates PASSED (GO), and
# after a rollback by hand a second one whose import loses records, which
# validates FAILED and is rolled back to the snapshot.  Then what the demo
# does not show: a rerun after the rollback migrates again (PASSED); a
# rerun after the GO is refused and touches nothing; validating after the
# GO is a report (a small loss WARNS) and changes nothing.
#
# What differs from the README's demo: --small (1,000 records of 32
# dimensions from tests/fixtures/validate-old.mjs instead of gen-demo.mjs's
# 9,832 of 384, to keep the suite fast), --no-setup (CI has installed and
# built), and the servers are this test's (lib.sh starts and stops them).
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
M1=$T/demo/migration M=$T/demo/migration-2

"$REPO/examples/demo.sh" --small --no-setup --dir "$T/demo" \
	--old "$URL_old" --new "$URL_new" >"$T/demo.out" 2>&1 ||
	fail "demo failed: $(tail -n 40 "$T/demo.out")"

# The two decisions, in the journals and the reports.
assert_eq "GO (validation PASSED)" \
	"$(sed 's/^[^ ]* \([^:]*\):.*/\1/' "$M1/MIGRATION.log" | paste -sd '|')" "first MIGRATION.log"
assert_eq "NO-GO (validation FAILED), rolled back" \
	"$(sed 's/^[^ ]* \([^:]*\):.*/\1/' "$M/MIGRATION.log" | paste -sd '|')" "second MIGRATION.log"
grep -q '^\*\*Overall status: PASSED\*\*' "$M1/validation_report.md" ||
	fail "first validation: $(head -n 5 "$M1/validation_report.md")"
assert_eq '"FAILED" true "Data Loss Detected"' \
	"$(jq -r '[.overall_status, .rollback_triggered, .rollback_reason] | map(tojson) | join(" ")' \
		"$M/validation_report.json")" "second validation"
grep -q 'nothing was switched: point the application from' "$M1/decision.log" || fail "no GO step"
jq -e '.status == "RESTORED" and .verified == true' "$M/rollback_report.json" >/dev/null ||
	fail "rollback report: $(jq -c '{status, verified, error}' "$M/rollback_report.json")"
# The backup of the old server verifies, and holds its 1,000 records.
cdb-rollback verify "$M1/old-backup.tar.gz" >/dev/null 2>&1 || fail "old backup does not verify"
assert_eq 1000 "$(cdb-rollback list --json "$M1/old-backup.tar.gz" | jq '[.collections[].count] | add')" \
	"records in the old backup"

# The archive of the failed state holds the four target collections but
# for the quarter of corpus the faulty import lost, next to the
# collection that was there before.
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

# A rerun after the rollback migrates again, into the restored database:
# the restore retired the import checkpoint.
[ -e "$M/import.ckpt.rolled-back" ] && [ ! -e "$M/import.ckpt" ] || fail "import checkpoint not retired"
MIGRATE=("$REPO/examples/migrate.sh" --old "$URL_old" --new "$URL_new"
	-s "$REPO/schemas/default.json" --log-dir "$M")
assert_status 0 "${MIGRATE[@]}" 2>"$T/rerun.err"
grep -q 'cdb-import: 1000 records in 4 collections (4 new)' "$M/import.log" ||
	fail "rerun did not import again: $(tail -n 5 "$M/import.log")"

# After the GO the application writes to the new server; a rerun of the
# same command is refused and restores nothing.
id=$(collection_id "$URL_new" personality)
api "$URL_new" "collections/$id/add" \
	'{"ids": ["app-written-1"], "embeddings": [['"$(seq -s, 1 32)"']], "documents": ["new"]}' >/dev/null
assert_status 2 "${MIGRATE[@]}" 2>"$T/again.err"
grep -q 'a GO is recorded, this migration is over' "$T/again.err" || fail "rerun: $(cat "$T/again.err")"
assert_eq 251 "$(api "$URL_new" "collections/$id/count")" "records after the refused rerun"

# Validating after the GO is a report: two records lost are a WARNING.
api "$URL_new" "collections/$id/delete" \
	'{"ids": ["app-written-1", "sergio_personality-00003", "sergio_personality-00007"]}' >/dev/null
assert_status 3 cdb-validate --new-url "$URL_new" --expected "$M/expected.ndjson" \
	-s "$REPO/schemas/default.json" --report-json "$T/after.json" 2>/dev/null
assert_eq '"WARNING" false' \
	"$(jq -r '[.overall_status, .rollback_triggered] | map(tojson) | join(" ")' \
		"$T/after.json")" "validation of a small loss"
assert_eq 248 "$(api "$URL_new" "collections/$id/count")" "records after the WARNING"
