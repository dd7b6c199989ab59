#!/bin/bash
# The decision is explicit: a GO waits for the sign-off file, runs the
# operator's --cutover and --smoke commands and records who decided; a
# failing smoke test is a NO-GO that rolls back (and says so); a loss of
# 120 of 2,000 records with --max-missing 100 rolls back (exit 4) even
# under a --max-data-loss it does not reach.
. "$(dirname "$0")/../lib.sh"

migrate_setup 500 8 --old-database default_database --create-database \
	--no-backup-old --sample 20
records() {
	cdb-export -q -u "$URL_new" --database "$1" | jq -c 'select(.kind == "record")' | wc -l
}

# GO: signed off, switched, smoke-tested.
M=$T/go
printf 'approved by: alice, bob\n' >"$T/approval"
assert_status 0 "${MIGRATE[@]}" --log-dir "$M" --database db_go --require-approval "$T/approval" \
	--cutover "echo switched >'$T/switched'" --smoke "test -e '$T/switched'" 2>"$T/go.err"
[ -e "$T/switched" ] || fail "the cutover command did not run"
grep -q 'approved: approved by: alice, bob' "$M/decision.log" || fail "approval: $(cat "$M/decision.log")"
assert_eq "GO (validation PASSED)|cut over by echo switched >'$T/switched'|smoke test test -e '$T/switched' passed" \
	"$(sed 's/^[^ ]* \([^:]*\):.*/\1/' "$M/MIGRATION.log" | paste -sd '|')" "journal of the GO"
grep -q 'no backup of the old database (--no-backup-old)' "$M/backup.log" || fail "no-backup-old not said"
[ ! -e "$M/old-backup.tar.gz" ] || fail "backup taken despite --no-backup-old"

# Without --cutover nothing is switched, and the journal does not claim so.
M=$T/plain
assert_status 0 "${MIGRATE[@]}" --log-dir "$M" --database db_plain 2>"$T/plain.err"
assert_eq "GO (validation PASSED)" "$(sed 's/^[^ ]* \([^:]*\):.*/\1/' "$M/MIGRATION.log")" "journal without cutover"
grep -q 'nothing was switched: point the application from' "$T/plain.err" || fail "no switch advice"

# A failing smoke test: NO-GO, rolled back to the (empty) snapshot.
M=$T/smoke
assert_status 4 "${MIGRATE[@]}" --log-dir "$M" --database db_smoke \
	--cutover true --smoke "echo smoke failed >&2; false" 2>"$T/smoke.err"
grep -q 'the smoke test failed: .*switch the application back' "$T/smoke.err" || fail "smoke: $(tail -n 5 "$T/smoke.err")"
assert_eq "NO-GO (smoke test failed), rolled back" "$(tail -n 1 "$M/MIGRATION.log" | sed 's/^[^ ]* \([^:]*\):.*/\1/')" \
	"journal of the failed smoke test"
assert_eq 0 "$(records db_smoke)" "records after the rollback"

# 120 of 2,000 lost (a cdb-import that deletes them once it has imported),
# under --max-data-loss 10 but over --max-missing 100: rolled back.
M=$T/loss
mkdir "$T/lossy"
cat >"$T/lossy/cdb-import" <<LOSSY
#!/bin/bash
"$(command -v cdb-import)" "\$@" || exit
case " \$* " in *" --dry-run "* | *" --allow-partial "*) exit 0 ;; esac
api=$URL_new/api/v2/tenants/default_tenant/databases/db_loss/collections
id=\$(curl -fsS "\$api/corpus" | jq -r .id)
curl -fsS -H 'Content-Type: application/json' -d '{"limit": 120, "include": []}' "\$api/\$id/get" |
	jq -c '{ids}' | curl -fsS -H 'Content-Type: application/json' --data-binary @- "\$api/\$id/delete" >/dev/null
LOSSY
chmod +x "$T/lossy/cdb-import"
PATH=$T/lossy:$PATH assert_status 4 "${MIGRATE[@]}" --log-dir "$M" --database db_loss \
	--max-missing 100 --max-data-loss 10 2>"$T/loss.err"
assert_eq '"FAILED" true 120' \
	"$(jq -r '[.overall_status, .rollback_triggered, .tests[0].metrics.missing_records] | map(tojson) | join(" ")' \
		"$M/validation_report.json")" "validation of the loss"
assert_eq 0 "$(records db_loss)" "records after the rollback"
jq -e '.thresholds.max_missing_records == 100 and .thresholds.max_data_loss_percentage == 10' \
	"$M/validation_report.json" >/dev/null || fail "thresholds: $(jq -c .thresholds "$M/validation_report.json")"
