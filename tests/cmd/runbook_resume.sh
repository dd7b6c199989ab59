#!/bin/bash
# examples/migrate.sh interrupted during the import, twice: first kill -9
# of cdb-import alone (the script must stop with status 1), then kill -9 of
# the whole script's process group, each time once the import checkpoint
# shows committed batches.  Rerunning the same command finishes the
# migration, resuming rather than starting over, without retaking the
# snapshot; and the new server then holds exactly what an uninterrupted
# import of the same transformed stream gives (tests/fixtures/compare.mjs
# reads both servers in full: every id, document, metadata value and type,
# and embedding).
. "$(dirname "$0")/../lib.sh"

# 2,000 records, imported 10 at a time: 200 batches to interrupt.
M=$T/m
migrate_setup 500 32 --log-dir "$M" -b 10
start_server ref

# committed: records the import checkpoint says the server acknowledged.
committed() {
	jq '[.collections[]] | add // 0' "$M/import.ckpt" 2>/dev/null || echo 0
}

# import_pid PGID: the cdb-import process of process group PGID (from
# /proc, fields pid, (comm), state, ppid, pgrp of /proc/PID/stat).
import_pid() {
	local f pid comm pgrp
	for f in /proc/[0-9]*/stat; do
		read -r pid comm _ _ pgrp _ <"$f" 2>/dev/null || continue
		if [ "$comm" = "(cdb-import)" ] && [ "$pgrp" = "$1" ]; then
			echo "$pid"
		fi
	done
}

# start_and_kill_when N WHAT: run the migration in its own process group,
# wait until more than N records are committed, then kill -9 WHAT: "import"
# (cdb-import alone) or "all" (the script and everything it started).
# Sets $st to the script's exit status.
start_and_kill_when() {
	local n=$1 what=$2 pid deadline=$((SECONDS + 120))
	setsid "${MIGRATE[@]}" >>"$T/out" 2>&1 &
	pid=$!
	# Should the test fail while it runs, it must not outlive the test.
	at_exit "kill -9 -- -$pid 2>/dev/null"
	while [ "$(committed)" -le "$n" ]; do
		kill -0 "$pid" 2>/dev/null || fail "migration ended before $n records: $(tail -n 20 "$T/out")"
		[ "$SECONDS" -lt "$deadline" ] || fail "no $n records committed in 120 s"
		sleep 0.01
	done
	case $what in
	import) kill -9 "$(import_pid "$pid")" ;;
	all) kill -9 -- "-$pid" ;;
	esac
	st=0
	wait "$pid" || st=$?
	jq -e '.complete == false' "$M/import.ckpt" >/dev/null ||
		fail "the import finished before the kill; the test proves nothing"
}

start_and_kill_when 200 import
assert_eq 1 "$st" "status after cdb-import was killed"
grep -q 'the migration stopped; rerun the same command to resume it' "$M/import.log" ||
	fail "no resume advice: $(tail -n 5 "$M/import.log")"
first=$(committed)

start_and_kill_when "$((first + 300))" all
assert_eq 137 "$st" "status after the process group was killed"
second=$(committed)
[ "$second" -lt 2000 ] || fail "nothing left to resume"

# The same command finishes the job.
assert_status 0 "${MIGRATE[@]}" 2>"$T/final.err"
grep -q 'cdb-import: .* (resumed)' "$M/import.log" || fail "import did not resume: $(tail -n 5 "$M/import.log")"
skipped=$(sed -n 's/.*cdb-import: \([0-9]*\) records were already committed.*/\1/p' "$M/import.log" | tail -n 1)
[ "${skipped:-0}" -ge "$second" ] || fail "the last run skipped ${skipped:-0} records, $second were committed"

# The snapshot is the one taken before the first record: the empty target.
assert_eq "0 0" "$(cdb-rollback list --json "$M/before.tar.gz" | jq -r '"\(.collections | length) \(.records)"')" \
	"snapshot after the resumes"
assert_eq 1 "$(grep -c 'snapshot of the new database' "$M/snapshot.log")" "snapshots taken"

# Counts, then contents: against an uninterrupted import of the same stream.
for pair in personality:500 rhetorical:500 humor:500 corpus:500; do
	assert_eq "${pair#*:}" "$(api "$URL_new" "collections/$(collection_id "$URL_new" "${pair%:*}")/count")" \
		"records in ${pair%:*}"
done
cdb-transform -q -s "$REPO/schemas/default.json" "$M/old.ndjson" | cdb-import -q -u "$URL_ref"
node "$REPO/tests/fixtures/compare.mjs" "$URL_new" "$URL_ref" ||
	fail "the resumed migration differs from an uninterrupted import"
