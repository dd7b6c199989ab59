#!/bin/bash
# The new server breaks down in the middle of the import (every /add from
# the third on fails, retries included): without --rollback-on-error the
# run stops (exit 1) and leaves what was imported for a resume; with it,
# the new database is rolled back to its snapshot (exit 4).
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/validate-old.mjs" "$URL_old" 500 8 >/dev/null
start_proxy keep "$URL_new" FAIL_ADD=3
start_proxy back "$URL_new" FAIL_ADD=3
MIGRATE=("$REPO/examples/migrate.sh" --old "$URL_old" -s "$REPO/schemas/default.json"
	--old-database default_database --create-database --no-backup-old -b 100)
records() {
	cdb-export -q -u "$URL_new" --database "$1" | jq -c 'select(.kind == "record")' | wc -l
}

# Without the flag: left as it is, with the command that resumes it.
M=$T/keep
assert_status 1 "${MIGRATE[@]}" --new "$P_keep" --log-dir "$M" --database db_keep 2>"$T/keep.err"
grep -q 'rerun the same command to resume it (the new server is left as it is)' "$T/keep.err" ||
	fail "no resume advice: $(cat "$T/keep.err")"
[ -s "$M/import.ckpt" ] || fail "no import checkpoint to resume from"
got=$(records db_keep)
[ "$got" -ge 200 ] && [ "$got" -lt 500 ] || fail "db_keep holds $got records, expected the first batches"
[ ! -e "$M/rollback_report.md" ] || fail "rolled back without --rollback-on-error"

# With it: rolled back to the snapshot of the (empty) new database.
M=$T/back
assert_status 4 "${MIGRATE[@]}" --new "$P_back" --log-dir "$M" --database db_back \
	--rollback-on-error 2>"$T/back.err"
grep -q 'the import failed (--rollback-on-error)' "$T/back.err" "$M"/*.log ||
	fail "rollback reason not said: $(cat "$T/back.err")"
[ -s "$M/rollback_report.md" ] || fail "no rollback report"
assert_eq 0 "$(records db_back)" "records left in db_back after the rollback"
