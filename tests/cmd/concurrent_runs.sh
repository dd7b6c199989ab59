#!/bin/bash
# Two runs on one output or checkpoint (issue 12): the second is refused
# at once, naming the first by its pid, and touches nothing; what is
# published is what one run wrote.  The first run is held at a pause
# point (lib/testpoint.h) while the second tries: no race.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" docs 300 8
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" faq 200 8
cd "$T"
mkfifo pause
exec 9<>pause

# hold POINT CMD...: start CMD; return once it waits at POINT ($pid).
hold() {
	local point=$1 line
	shift
	CDB_TEST_PAUSE=$point CDB_TEST_PAUSE_FIFO=$T/pause "$@" &
	pid=$!
	read -r -t 120 -u 9 line || fail "never reached pause point $point"
	assert_eq "$pid ${point%% *}" "$line" "pause point reached"
}
# refused WHAT CMD...: CMD fails at once, naming the held run.
refused() {
	local what=$1
	shift
	assert_status 1 "$@" 2>err
	grep -qF "$what is in use by another run (pid $pid)" err ||
		fail "$*: $(cat err)"
}
release() {
	kill -9 "$pid"
	wait "$pid" 2>/dev/null || true
}

# Snapshots: a second one of the same file is refused, with -f too, and
# the held one's partial file is what its own rerun finishes.
hold "snapshot-member 1" cdb-rollback snapshot -q -b 50 -u "$URL_a" -o s.tar.gz
refused s.tar.gz cdb-rollback snapshot -q -u "$URL_a" -o s.tar.gz
refused s.tar.gz cdb-rollback snapshot -q -f -u "$URL_a" -o s.tar.gz faq
release
[ ! -e s.tar.gz ] || fail "a snapshot appeared"
cdb-rollback snapshot -q -b 50 -u "$URL_a" -o s.tar.gz
cdb-rollback verify -q s.tar.gz
assert_eq 'docs 300,faq 200' \
	"$(cdb-rollback list --json s.tar.gz | jq -r '[.collections[] | "\(.name) \(.count)"] | join(",")')" \
	"snapshot after a refused second run"

# Exports: the output and the checkpoint are each locked.
hold "export 1" cdb-export -q -b 50 -u "$URL_a" -o out.ndjson -c out.ckpt
refused out.ndjson cdb-export -q -u "$URL_a" -o out.ndjson
refused out.ckpt cdb-export -q -u "$URL_a" -o other.ndjson -c out.ckpt
[ ! -e other.ndjson ] || fail "a refused export wrote its output"
release
cdb-export -q -b 50 -u "$URL_a" -o out.ndjson -c out.ckpt
[ ! -e out.ckpt ] || fail "checkpoint left after the export"

# Imports: the checkpoint is locked.
hold "import:docs 100" cdb-import -q -b 50 -u "$URL_b" -c imp.ckpt out.ndjson
refused imp.ckpt cdb-import -q -u "$URL_b" -c imp.ckpt out.ndjson
release
cdb-import -q -b 50 -u "$URL_b" -c imp.ckpt out.ndjson
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "imported database differs after a refused second run"

# Restores: the work directory, and the reports.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_b" mig 20 8
hold "snapshot-member 1" cdb-rollback restore -q -u "$URL_b" -C mig s.tar.gz
refused rollback_report.json \
	cdb-rollback restore -q -u "$URL_b" -C mig -w w2 s.tar.gz
[ ! -e w2 ] || fail "a refused restore wrote its work directory"
refused cdb-rollback.work cdb-rollback restore -q -u "$URL_b" -C mig \
	--report-json r2.json --report-md r2.md s.tar.gz
jq -e '.status == "FAILED"' r2.json >/dev/null || fail "report of the refused restore"
release
cdb-rollback restore -q -u "$URL_b" -C mig s.tar.gz
jq -e '.status == "RESTORED" and .resumed == true' rollback_report.json >/dev/null ||
	fail "report: $(jq -c '{status, resumed, error}' rollback_report.json)"
ls ./*.lock 2>/dev/null && fail "lock files left behind"
true
