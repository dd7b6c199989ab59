#!/bin/bash
# Snapshot, then a failed migration that drops, changes and adds
# collections, then restore: the database is back to the exact snapshot
# state, checked by an independent reader against a copy made before the
# migration; the failed state is archived and the reports say what
# happened, without credentials.  Every collection is removed and
# recreated, which is when Chroma 1.3 hands stale array metadata to new
# records (see BUGS in cdb-rollback(1)).
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
start_server c
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
# B is the reference: a copy of A before the migration.
cdb-export -q -u "$URL_a" | cdb-import -q -u "$URL_b"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" >/dev/null

cd "$T"
cdb-rollback snapshot -q -u "$URL_a" -o before.tar.gz
cdb-rollback verify -q before.tar.gz

# The failed migration.  It drops a collection, deletes and changes
# records of another, ...
api_method DELETE "$URL_a" collections/fid-ip >/dev/null
id=$(collection_id "$URL_a" fid-l2)
api "$URL_a" "collections/$id/delete" '{"ids":["plain","rec-20"]}' >/dev/null
api "$URL_a" "collections/$id/update" \
	'{"ids":["rec-30"],"documents":["CHANGED"],"metadatas":[{"int":-1}]}' >/dev/null
# ... creates two collections through cdb-import with a checkpoint ...
node "$REPO/tests/fixtures/bulk.mjs" "$URL_c" mig-a 300 16
node "$REPO/tests/fixtures/bulk.mjs" "$URL_c" mig-b 200 8 ip
cdb-export -q -u "$URL_c" | cdb-import -q -u "$URL_a" -c mig.ckpt
# ... and one by hand, which only the validation report names.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig-hand 50 4
if node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" >/dev/null 2>&1; then
	fail "the migration changed nothing; the test proves nothing"
fi

cat >validation_report.json <<'EOF'
{"overall_status":"FAILED","rollback_triggered":true,
 "rollback_reason":"Chunk Count Mismatch","data_loss_percentage":0.65,
 "collections":[{"name":"mig-hand","expected":50,"found":49}],
 "tests":{"count_verification":{"status":"FAILED"}}}
EOF
# A token and a password in the URL must reach no report.
export CHROMA_TOKEN=tok-SECRET-42
url_pw=${URL_a/http:\/\//http:\/\/user:pw-SECRET@}
cdb-rollback restore -u "$url_pw" -r validation_report.json -c mig.ckpt \
	before.tar.gz 2>err || fail "restore failed: $(cat err)"
unset CHROMA_TOKEN
grep -q 'rollback triggered: "Chunk Count Mismatch"' err ||
	fail "reason not quoted: $(cat err)"

node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "restored database differs from the snapshot's copy"

# The reports.
r=rollback_report.json
jq -e '.status == "RESTORED" and .verified == true and .resumed == false' $r >/dev/null ||
	fail "report status: $(jq -c '{status, verified, error}' $r)"
jq -e '.validation.rollback_reason == "Chunk Count Mismatch"' $r >/dev/null ||
	fail "report lacks the validation reason"
assert_eq '[]' "$(jq -c .left_alone $r)" "collections left alone"
assert_eq 'fid-cosine restore 35 35 35 true,fid-empty restore 0 0 0 true,fid-ip restore null 40 40 true,fid-l2 restore 228 230 230 true,mig-a remove 300 null null true,mig-b remove 200 null null true,mig-hand remove 50 null null true' \
	"$(jq -r '[.collections[] | "\(.name) \(.action) \(.count_before) \(.count_expected) \(.count_after) \(.verified)"] | join(",")' $r)" \
	"report rows"
jq -e '[.collections[] | select(.action == "restore") | .compared] == [35,0,40,230]' $r >/dev/null ||
	fail "not every record was compared"
grep -q '| fid-l2 | restore | 228 | 230 | 230 | yes | yes |' rollback_report.md ||
	fail "markdown report: $(cat rollback_report.md)"
if grep -l 'SECRET' rollback_report.json rollback_report.md err; then
	fail "a credential reached a report"
fi

# The evidence: the failed state, as it was, in a verifiable snapshot.
arch=$(jq -r .failed_archive $r)
[ -f "$arch" ] || fail "no archive of the failed state"
cdb-rollback verify -q "$arch"
assert_eq 'fid-cosine 35,fid-empty 0,fid-l2 228,mig-a 300,mig-b 200,mig-hand 50' \
	"$(cdb-rollback list --json "$arch" | jq -r '[.collections[] | "\(.name) \(.count)"] | join(",")')" \
	"archived collections"
m=$(cdb-rollback list --json "$arch" | jq -r '.collections[] | select(.name == "fid-l2") | .member')
tar -xzOf "$arch" "$m" >failed-l2.ndjson
grep -q '"document":"CHANGED"' failed-l2.ndjson ||
	fail "the archive does not hold the changed record"

# Nothing left behind but the reports and the archive.
[ ! -e cdb-rollback.work ] || fail "work directory left behind"
ls ./*.partial* 2>/dev/null && fail "partial files left behind"

# Restoring the same snapshot again is harmless: the database verifies.
# The temporary files a kill -9 can leave in the work directory go with
# it; files that are not the restore's stay, and so does the directory.
mkdir cdb-rollback.work
touch cdb-rollback.work/state.json.tmp.4242 cdb-rollback.work/import-0001.ckpt.tmp.7
cdb-rollback restore -q -u "$URL_a" before.tar.gz
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" >/dev/null ||
	fail "second restore changed the result"
[ ! -e cdb-rollback.work ] || fail "work directory left behind: $(ls cdb-rollback.work)"
mkdir mine
touch mine/notes.txt mine/import-1.ckpt
cdb-rollback restore -q -u "$URL_a" -w mine before.tar.gz
assert_eq 'import-1.ckpt notes.txt' "$(ls mine | xargs)" "files left in a work directory"
