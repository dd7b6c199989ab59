#!/bin/bash
# The T-1 dry run, then T0 while production keeps writing: migrate.sh
# --preflight-only writes nothing to either server; the old server then
# changes (one record deleted, one added, one changed); the migration
# carries on from the frozen export and validates against it: the
# migration is right, the drift is a WARNING of its own with the numbers,
# and nothing is rolled back.  The backup of the old database verifies.
. "$(dirname "$0")/../lib.sh"

M=$T/m
migrate_setup 50 16 --log-dir "$M"

# T-1: the dry run.
assert_status 0 "${MIGRATE[@]}" --preflight-only 2>"$T/pre.err"
grep -q 'GO: pre-flight passed' "$T/pre.err" || fail "pre-flight: $(tail -n 5 "$T/pre.err")"
assert_eq "" "$(api "$URL_new" collections | jq -r '.[].name' | xargs)" "new server after --preflight-only"
[ ! -e "$M/before.tar.gz" ] && [ ! -e "$M/old-backup.tar.gz" ] && [ ! -e "$M/MIGRATION.log" ] ||
	fail "--preflight-only went on: $(ls "$M")"

# Production writes to the old server after the export.
id=$(collection_id "$URL_old" sergio_humor)
api "$URL_old" "collections/$id/delete" '{"ids": ["sergio_humor-00001"]}' >/dev/null
api "$URL_old" "collections/$id/add" \
	'{"ids": ["written-later"], "embeddings": [['"$(seq -s, 1 16)"']], "documents": ["late"]}' >/dev/null
api "$URL_old" "collections/$id/update" '{"ids": ["sergio_humor-00002"], "documents": ["edited"]}' >/dev/null

# T0: the migration of what was exported.
assert_status 3 "${MIGRATE[@]}" 2>"$T/run.err"
jq -e '.source_drift | .added == 1 and .removed == 1 and .changed == 1 and .status == "WARNING"' \
	"$M/validation_report.json" >/dev/null ||
	fail "drift: $(jq -c .source_drift "$M/validation_report.json")"
assert_eq '"WARNING" false' \
	"$(jq -r '[.overall_status, .rollback_triggered] | map(tojson) | join(" ")' \
		"$M/validation_report.json")" "verdict"
jq -e '[.tests[] | select(.status == "FAILED" or .status == "WARNING")] | length == 0' \
	"$M/validation_report.json" >/dev/null ||
	fail "a test did not pass: $(jq -c '[.tests[] | {name, status}]' "$M/validation_report.json")"
grep -q 'source changed since export: 1 record added, 1 removed, 1 changed' "$M/validation_report.md" ||
	fail "no drift finding in the report: $(grep -i warning "$M/validation_report.md")"
grep -q 'REVIEW: validation WARNING' "$T/run.err" || fail "decision: $(tail -n 5 "$T/run.err")"
assert_eq 200 "$(cdb-export -q -u "$URL_new" | jq -c 'select(.kind == "record")' | wc -l)" \
	"records on the new server (nothing rolled back)"
[ ! -e "$M/rollback_report.json" ] || fail "a rollback ran"

# The thresholds reached cdb-validate and the log.
grep -q -- '--max-missing 100' "$M/validate.log" || fail "thresholds: $(grep '\$ cdb-validate' "$M/validate.log")"

# The old database's backup, taken before anything was written, verifies
# and holds the export's 200 records.
cdb-rollback verify "$M/old-backup.tar.gz" >/dev/null || fail "backup does not verify"
assert_eq 200 "$(cdb-rollback list --json "$M/old-backup.tar.gz" | jq .records)" "records in the backup"

# Without drift the same check is silent.
rm -f "$M/validation_report.json"
cdb-validate --new-url "$URL_old" --expected "$M/old.ndjson" --old-url "$URL_old" \
	--source-export "$M/old.ndjson" --report-json "$T/self.json" 2>/dev/null || true
jq -e '.source_drift | .added == 1 and .removed == 1 and .changed == 1' "$T/self.json" >/dev/null ||
	fail "drift against itself: $(jq -c .source_drift "$T/self.json")"
cdb-export -q -u "$URL_old" --embeddings base64 >"$T/now.ndjson"
cdb-validate --new-url "$URL_old" --expected "$T/now.ndjson" --old-url "$URL_old" \
	--source-export "$T/now.ndjson" --report-json "$T/same.json" 2>/dev/null || true
jq -e '.source_drift | .added == 0 and .removed == 0 and .changed == 0 and .status == "PASSED"' \
	"$T/same.json" >/dev/null || fail "no drift: $(jq -c .source_drift "$T/same.json")"

# An export in shards is one export to the check: each shard holds part
# of every collection, and the rest is not "added" on the server.  Then
# one record written after the shards were taken is.
for k in 1 2 3; do
	cdb-export -q -u "$URL_old" --shard "$k/3" --embeddings base64 >"$T/now-$k.ndjson"
done
# shard_drift REPORT: the check over the three shard exports, as
# "status exported added removed changed".
shard_drift() {
	cdb-validate --new-url "$URL_old" --expected "$T/now.ndjson" --old-url "$URL_old" \
		--source-export "$T/now-1.ndjson" --source-export "$T/now-2.ndjson" \
		--source-export "$T/now-3.ndjson" --report-json "$1" 2>/dev/null || true
	jq -r '.source_drift | "\(.status) \(.exported) \(.added) \(.removed) \(.changed)"' "$1"
}
assert_eq "PASSED 200 0 0 0" "$(shard_drift "$T/shards.json")" "drift over three shard exports"
api "$URL_old" "collections/$id/add" \
	'{"ids": ["written-after-shards"], "embeddings": [['"$(seq -s, 1 16)"']], "documents": ["later"]}' >/dev/null
assert_eq "WARNING 200 1 0 0" "$(shard_drift "$T/shards2.json")" \
	"drift over three shard exports after a write"
