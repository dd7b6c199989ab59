#!/bin/bash
# examples/migrate.sh -P 3: three shard pipelines (export, transform,
# import at once, each with its own files) and one validation over the
# three expected files: PASSED, and the target identical to the source
# (tests/fixtures/compare.mjs, through a schema that keeps everything).
# Then a migration whose shard 2 import fails part-way (cdb-import run on
# the first lines of its stream, a real error after committed batches):
# the script names the shard and exits 1, and the rerun resumes shard 2
# from its checkpoint while shards 1 and 3, finished, send nothing.
. "$(dirname "$0")/../lib.sh"

start_server old
start_server new
node "$REPO/tests/fixtures/populate.mjs" "$URL_old" >/dev/null
node "$REPO/tests/fixtures/bulk.mjs" "$URL_old" bulk 300 16 >/dev/null
cat >"$T/same.json" <<'JSON'
{"version": 1, "unknown_fields": "keep", "collections": {
  "fid-l2": {"from": "fid-l2"}, "fid-ip": {"from": "fid-ip"},
  "fid-cosine": {"from": "fid-cosine"}, "fid-empty": {"from": "fid-empty"},
  "bulk": {"from": "bulk"}},
  "fields": {}}
JSON
MIGRATE=("$REPO/examples/migrate.sh" --old "$URL_old" -s "$T/same.json"
	--no-backup-old --sample 20 -P 3 -b 10)

M=$T/p3
assert_status 0 "${MIGRATE[@]}" --new "$URL_new" --log-dir "$M" 2>"$T/p3.err"
grep -q 'GO: validation PASSED' "$T/p3.err" || fail "no PASSED: $(tail -n 5 "$T/p3.err")"
for k in 1 2 3; do
	for f in old-$k.ndjson expected-$k.ndjson import-$k.ckpt export-$k.log import-$k.log; do
		[ -e "$M/$f" ] || fail "no $f"
	done
	assert_eq "$k/3" "$(head -n 1 "$M/expected-$k.ndjson" | jq -r '"\(.shard.index)/\(.shard.of)"')" \
		"shard of expected-$k.ndjson"
done
[ ! -e "$M/old.ndjson" ] && [ ! -e "$M/import.ckpt" ] || fail "single-pipeline files with -P 3"
assert_eq "$M/expected-1.ndjson $M/expected-2.ndjson $M/expected-3.ndjson" \
	"$(jq -r '.expected.files | join(" ")' "$M/validation_report.json")" "validated against"
node "$REPO/tests/fixtures/compare.mjs" "$URL_old" "$URL_new" ||
	fail "the -P 3 migration differs from the source"
# The source-drift check read the three shard exports as one export:
# every record once, nothing added, removed or changed since.
n=$(cat "$M"/old-[123].ndjson | jq -c 'select(.kind == "record")' | wc -l)
assert_eq "PASSED $n 0 0 0 0 0" "$(jq -r '.source_drift | "\(.status) \(.exported) \(.added) \(.removed) \(.changed) \(.collections_added) \(.collections_removed)"' \
	"$M/validation_report.json")" "source drift over the shards"

# Shard 2's import fails after committing batches: cdb-import (the real
# one) reads its stream's first 60 lines only, a stream without trailer.
mkdir "$T/bin"
cat >"$T/bin/cdb-import" <<WRAP
#!/bin/bash
case " \$* " in
*--dry-run*) ;;
*import-2.ckpt*)
	if [ -e "$T/break" ]; then
		head -n 60 "\${@: -1}" | "$REPO/import/cdb-import" "\${@:1:\$#-1}"
		exit
	fi ;;
esac
exec "$REPO/import/cdb-import" "\$@"
WRAP
chmod +x "$T/bin/cdb-import"
start_server new2
M=$T/resume
touch "$T/break"
PATH=$T/bin:$PATH assert_status 1 "${MIGRATE[@]}" --new "$URL_new2" --log-dir "$M" 2>"$T/r1.err"
grep -q 'shard(s) 2 of 3 failed' "$T/r1.err" || fail "failed shard not named: $(tail -n 5 "$T/r1.err")"
jq -e '.complete != true and ([.collections[]] | add) > 0' "$M/import-2.ckpt" >/dev/null ||
	fail "shard 2 committed nothing before failing: $(cat "$M/import-2.ckpt")"
for k in 1 3; do
	jq -e '.complete == true' "$M/import-$k.ckpt" >/dev/null || fail "shard $k did not finish"
done
rm "$T/break"
PATH=$T/bin:$PATH assert_status 0 "${MIGRATE[@]}" --new "$URL_new2" --log-dir "$M" 2>"$T/r2.err"
grep -q 'GO: validation PASSED' "$T/r2.err" || fail "rerun not PASSED: $(tail -n 5 "$T/r2.err")"
for k in 1 3; do
	assert_eq 1 "$(grep -c 'cdb-import: nothing to do' "$M/import-$k.log")" \
		"shard $k, finished: nothing sent again"
done
grep -q '(resumed)' "$M/import-2.log" || fail "shard 2 did not resume: $(tail -n 3 "$M/import-2.log")"
assert_eq 1 "$(grep -c 'snapshot of the new database' "$M/snapshot.log")" "snapshots taken"
node "$REPO/tests/fixtures/compare.mjs" "$URL_old" "$URL_new2" ||
	fail "the resumed -P 3 migration differs from the source"
