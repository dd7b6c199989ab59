#!/bin/bash
# kill -9 a restore while it archives the failed state, and twice while it
# imports; rerun the same command: it finishes, nothing from the snapshot
# is lost, the failed state is archived once, and the report keeps the
# counts found before anything changed.  Then kill -9 a snapshot: it never
# looks valid, and the same command finishes it.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" big-one 3000 64
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" big-two 1500 32 ip
cdb-export -q -u "$URL_a" | cdb-import -q -u "$URL_b"
cd "$T"
cdb-rollback snapshot -q -u "$URL_a" -o before.tar.zst

# The failed migration.
api_method DELETE "$URL_a" collections/big-two >/dev/null
id=$(collection_id "$URL_a" big-one)
api "$URL_a" "collections/$id/delete" \
	'{"ids":["big-one-0000000","big-one-0000001","big-one-0000002"]}' >/dev/null
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig-x 8000 16

args=(-q -b 100 -u "$URL_a" -C mig-x before.tar.zst)

# Start the restore with a pause point (lib/testpoint.h): once it has
# reached it, everything before is done and nothing after, and it waits
# there for its kill -9.  No race: the test waits for the program to say
# it is there.
mkfifo "$T/pause"
exec 9<>"$T/pause"
kill_at() {
	local point=$1 pid line
	shift
	CDB_TEST_PAUSE=$point CDB_TEST_PAUSE_FIFO=$T/pause "$@" &
	pid=$!
	read -r -t 120 -u 9 line || fail "never reached pause point $point"
	assert_eq "$pid ${point%% *}" "$line" "pause point reached"
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
}
kill_when() {
	kill_at "$1" "$CDB_ROLLBACK" restore "${args[@]}"
}
archived() {
	jq -e '.collections | length >= 1' failed-*.tar.gz.partial.ckpt >/dev/null 2>&1
}
imported() {
	jq -e "[.collections[]] | add >= $2" "cdb-rollback.work/import-$1.ckpt" \
		>/dev/null 2>&1
}

kill_when "snapshot-member 1"
archived || fail "killed before the archive of big-one was recorded"
ls failed-*.tar.gz >/dev/null 2>&1 &&
	fail "the archive was finished before the kill; the test proves nothing"
jq -e '.phase == "archive"' cdb-rollback.work/state.json >/dev/null ||
	fail "killed in phase $(jq -r .phase cdb-rollback.work/state.json)"

kill_when "import:big-one 800"
imported 0001 800 || fail "killed before 800 records of big-one were recorded"
jq -e '.phase == "import" and .imported == []' cdb-rollback.work/state.json >/dev/null ||
	fail "not killed in the first import: $(jq -c '{phase, imported}' cdb-rollback.work/state.json)"

kill_when "import:big-two 300"
imported 0002 300 || fail "killed before 300 records of big-two were recorded"
jq -e '.imported == ["big-one"]' cdb-rollback.work/state.json >/dev/null ||
	fail "not killed in the second import: $(jq -c '{phase, imported}' cdb-rollback.work/state.json)"
jq -e '.complete == false' cdb-rollback.work/import-0002.ckpt >/dev/null ||
	fail "the import finished before the kill; the test proves nothing"

# The same command finishes the job.
"$CDB_ROLLBACK" restore "${args[@]}"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "restored database differs after the kills"
r=rollback_report.json
jq -e '.status == "RESTORED" and .resumed == true' $r >/dev/null ||
	fail "report: $(jq -c '{status, resumed, error}' $r)"
assert_eq 'big-one 2997 3000,big-two null 1500,mig-x 8000 null' \
	"$(jq -r '[.collections[] | "\(.name) \(.count_before) \(.count_expected)"] | join(",")' $r)" \
	"counts before, from the first run"
assert_eq 1 "$(ls failed-*.tar.gz | wc -l)" "archives of the failed state"
cdb-rollback verify -q failed-*.tar.gz
assert_eq 'big-one 2997,mig-x 8000' \
	"$(cdb-rollback list --json failed-*.tar.gz | jq -r '[.collections[] | "\(.name) \(.count)"] | join(",")')" \
	"archived failed state"
[ ! -e cdb-rollback.work ] || fail "work directory left behind"
ls ./*.partial* 2>/dev/null && fail "partial files left behind"

# kill -9 a snapshot after its first member: no snapshot appears, the
# partial file is not one, and the same command finishes it.
kill_at "snapshot-member 1" "$CDB_ROLLBACK" snapshot -q -b 10 -u "$URL_a" -o after.tar.gz
jq -e '.collections | length == 1' after.tar.gz.partial.ckpt >/dev/null ||
	fail "killed before the first member was recorded"
[ ! -e after.tar.gz ] || fail "an interrupted snapshot has its final name"
assert_status 1 cdb-rollback verify -q after.tar.gz.partial 2>/dev/null
"$CDB_ROLLBACK" snapshot -b 10 -u "$URL_a" -o after.tar.gz 2>err
grep -q 'resumed' err || fail "snapshot did not resume: $(cat err)"
cdb-rollback verify -q after.tar.gz
assert_eq 'big-one 3000,big-two 1500' \
	"$(cdb-rollback list --json after.tar.gz | jq -r '[.collections[] | "\(.name) \(.count)"] | join(",")')" \
	"resumed snapshot"
ls ./*.partial* 2>/dev/null && fail "partial files left behind"
true
