#!/bin/bash
# examples/migrate.sh - the migration runbook as one script: pre-flight,
# snapshot, migration with checkpoints, validation, then GO (cutover) or
# NO-GO (rollback).  It composes the five cdb programs and decides on their
# exit statuses; every step is theirs.
#
#   examples/migrate.sh --old URL --new URL -s SCHEMA [--log-dir DIR]   (or --old-url, --new-url)
#       [--tenant T] [--database D] [--old-tenant T] [--old-database D]
#       [--auth-header NAME] [-b BATCH] [-j JOBS]
#
# Steps (each logged, with timestamps, to DIR/STEP.log and the terminal):
#   1 preflight  both servers reachable and the schema maps every old
#                collection (an export of no records, transformed, checked
#                by cdb-import --dry-run); the old database exported to
#                DIR/old.ndjson (read-only, resumable); the whole
#                transformed stream checked against the new server
#                (cdb-import --dry-run: dimensions, ids, metadata, existing
#                collections), with rejects in DIR/rejects.ndjson; free
#                disk in DIR for the snapshot and a rollback's archive.
#                Nothing has been written to the new server yet.
#   2 snapshot   cdb-rollback snapshot of the new database: DIR/before.tar.gz
#   3 import     cdb-transform DIR/old.ndjson | cdb-import -c DIR/import.ckpt
#   4 validate   cdb-validate: DIR/validation_report.{md,json}
#   5 decision   PASSED: cutover - prints what to switch, MIGRATION.log line;
#                WARNING: stop for review;
#                FAILED: cdb-rollback restore with the validation report,
#                reports in DIR/rollback_report.{md,json}.
#
# Resuming: run the same command again.  Finished steps are not redone
# (old.ndjson and before.tar.gz only appear when complete), an interrupted
# export or snapshot continues from its checkpoint, and the import skips
# what the server already acknowledged.  That is why the export goes to a
# file first instead of straight into the pipe: cdb-import can only resume
# on the same stream, and a second export would be a different stream (a
# new header), while the transform of the same file is the same every time.
# DIR/migration.conf records the servers and the schema, so a rerun with
# other ones is refused.  After a rollback the import checkpoint is kept as
# DIR/import.ckpt.rolled-back, so a rerun imports again from scratch into
# the restored database.
#
# Exit status:
#   0  validation PASSED: cut over (what to switch is printed)
#   1  a step failed (pre-flight NO-GO, unreachable server, import error,
#      validation could not run): see the step's log; rerun to resume
#   2  usage error, or DIR belongs to another migration
#   3  validation WARNING: stopped for review; nothing switched or undone
#   4  validation FAILED: the new database was rolled back to the snapshot,
#      and the restored state verified
#   5  validation FAILED and the rollback did not complete: see
#      DIR/rollback_report.md; rerunning the script retries it
#
# Tokens come from CHROMA_TOKEN, as for every cdb program (one token for
# both servers); --auth-header names the header they go in.
set -euo pipefail

usage() {
	sed -n '7,9p' "$0" | cut -c 3- >&2
	exit 2
}

OLD='' NEW='' SCHEMA='' DIR=migration
TENANT='' DATABASE='' OLD_TENANT='' OLD_DATABASE=''
IMPORT_OPTS=() AUTH=()
while [ $# -gt 0 ]; do
	case $1 in
	--old | --old-url) OLD=${2:?}; shift ;;
	--new | --new-url) NEW=${2:?}; shift ;;
	-s | --schema) SCHEMA=${2:?}; shift ;;
	--log-dir) DIR=${2:?}; shift ;;
	--tenant) TENANT=${2:?}; shift ;;
	--database) DATABASE=${2:?}; shift ;;
	--old-tenant) OLD_TENANT=${2:?}; shift ;;
	--old-database) OLD_DATABASE=${2:?}; shift ;;
	--auth-header) AUTH=(--auth-header "${2:?}"); shift ;;
	-b | -j) IMPORT_OPTS+=("$1" "${2:?}"); shift ;;
	-h | --help) usage ;;
	*) echo "migrate.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
if [ -z "$OLD" ] || [ -z "$NEW" ] || [ -z "$SCHEMA" ]; then
	usage
fi
[ -r "$SCHEMA" ] || { echo "migrate.sh: cannot read schema $SCHEMA" >&2; exit 2; }

# Where each side lives: --tenant/--database for both, --old-* for the old.
NEW_AT=(${TENANT:+--tenant "$TENANT"} ${DATABASE:+--database "$DATABASE"})
OLD_TENANT=${OLD_TENANT:-$TENANT} OLD_DATABASE=${OLD_DATABASE:-$DATABASE}
OLD_AT=(${OLD_TENANT:+--tenant "$OLD_TENANT"} ${OLD_DATABASE:+--database "$OLD_DATABASE"})
# For people: "http://new:8000 (tenant acme, database prod)".
where() { printf '%s%s' "$1" "${2:+ ($2)}"; }
OLD_WHERE=$(where "$OLD" "${OLD_TENANT:+tenant $OLD_TENANT}${OLD_TENANT:+${OLD_DATABASE:+, }}${OLD_DATABASE:+database $OLD_DATABASE}")
NEW_WHERE=$(where "$NEW" "${TENANT:+tenant $TENANT}${TENANT:+${DATABASE:+, }}${DATABASE:+database $DATABASE}")

mkdir -p "$DIR"

# ------------------------------------------------------------ logging --

# stamp STEP: copy stdin to DIR/STEP.log and stderr, each line timestamped.
stamp() {
	local line
	while IFS= read -r line; do
		TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T [%s] %s\n' -1 "$1" "$line"
	done | tee -a "$DIR/$1.log" >&2
}

# say STEP MESSAGE: a line of the script's own in STEP's log.
say() {
	printf '%s\n' "$2" | stamp "$1"
}

# run STEP CMD...: run CMD with its messages (stderr) stamped into STEP's
# log; its output (stdout) goes where run's goes.  Returns CMD's status.
run() {
	local step=$1
	shift
	say "$step" "\$ $*"
	{ "$@" 2>&1 1>&3 3>&- | stamp "$step"; } 3>&1
}

# ------------------------------------------------------- same migration --

# A rerun must be the same migration: the checkpoints mean nothing for
# other servers or another schema.
conf=$(printf 'old %s %s/%s\nnew %s %s/%s\nschema %s\n' \
	"$OLD" "$OLD_TENANT" "$OLD_DATABASE" "$NEW" "$TENANT" "$DATABASE" \
	"$(cksum <"$SCHEMA")")
if [ -e "$DIR/migration.conf" ]; then
	if [ "$conf" != "$(cat "$DIR/migration.conf")" ]; then
		echo "migrate.sh: $DIR holds another migration:" >&2
		cat "$DIR/migration.conf" >&2
		echo "use another --log-dir to start a new one" >&2
		exit 2
	fi
else
	printf '%s\n' "$conf" >"$DIR/migration.conf"
fi

# ------------------------------------------------------ 1. pre-flight --

say preflight "==> 1. pre-flight: $OLD_WHERE -> $NEW_WHERE, schema $SCHEMA, in $DIR"
nogo() {
	say preflight "NO-GO: $1; nothing was written to the new server"
	exit 1
}

# Both servers answer, every old collection has a target, and no target
# collection is in the way: a stream with every collection and no record
# (a where filter no record matches) through the real pipe, checked by
# cdb-import --dry-run.  Seconds, before hours of export.  Once the import
# has started, the full dry run below (with its checkpoint) does this.
if [ ! -e "$DIR/import.ckpt" ]; then
	run preflight cdb-export -q -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" \
		--where '{"cdb_preflight_matches_nothing": "x"}' |
		run preflight cdb-transform -q -s "$SCHEMA" |
		run preflight cdb-import --dry-run -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" ||
		nogo "a server is unreachable, or the schema or the target database is not ready"
fi

# The export, to a file, resumable; old.ndjson appears only when complete.
if [ ! -e "$DIR/old.ndjson" ]; then
	run export cdb-export -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" \
		--embeddings base64 -o "$DIR/old.ndjson.partial" -c "$DIR/export.ckpt" ||
		nogo "the export failed (rerun to resume it)"
	mv "$DIR/old.ndjson.partial" "$DIR/old.ndjson"
fi

# The whole transformed stream against the new server.  Records the
# schema rejects are listed in rejects.ndjson; any makes a NO-GO, since
# they would not be migrated.
run preflight cdb-transform -s "$SCHEMA" --rejects "$DIR/rejects.ndjson" "$DIR/old.ndjson" |
	run preflight cdb-import --dry-run -c "$DIR/import.ckpt" -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" ||
	nogo "the transformed stream does not fit (rejects, if any, are in $DIR/rejects.ndjson)"

# Room for the snapshot, and for the archive of the failed state that a
# rollback writes: each at most about the size of the exported stream
# (both are compressed; a target that already holds much more needs more).
need=$(($(stat -c %s "$DIR/old.ndjson") / 1024))
free=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
say preflight "disk: ${free} KiB free in $DIR, ${need} KiB wanted"
[ "$free" -ge "$need" ] || nogo "not enough free disk in $DIR"
say preflight "GO: pre-flight passed"

# -------------------------------------------------------- 2. snapshot --

# Taken once, before the first record is written: a rerun must not
# snapshot a half-migrated database.  An interrupted snapshot never has
# its final name, and the same command resumes it.
if [ ! -e "$DIR/before.tar.gz" ]; then
	say snapshot "==> 2. snapshot of the new database"
	run snapshot cdb-rollback snapshot -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" \
		-o "$DIR/before.tar.gz" || {
		say snapshot "the snapshot failed; nothing was written to the new server; rerun to resume it"
		exit 1
	}
else
	say snapshot "==> 2. snapshot: $DIR/before.tar.gz, taken before the migration started"
fi

# ---------------------------------------------------------- 3. import --

say import "==> 3. migration: cdb-transform | cdb-import, checkpoint $DIR/import.ckpt"
run transform cdb-transform -s "$SCHEMA" "$DIR/old.ndjson" |
	run import cdb-import -c "$DIR/import.ckpt" -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" \
		"${IMPORT_OPTS[@]}" || {
	say import "the migration stopped; rerun the same command to resume it"
	exit 1
}

# -------------------------------------------------------- 4. validate --

say validate "==> 4. validation"
st=0
run validate cdb-validate --old-url "$OLD" --new-url "$NEW" -s "$SCHEMA" \
	${OLD_TENANT:+--old-tenant "$OLD_TENANT"} ${OLD_DATABASE:+--old-database "$OLD_DATABASE"} \
	"${NEW_AT[@]}" "${AUTH[@]}" \
	--report-md "$DIR/validation_report.md" \
	--report-json "$DIR/validation_report.json" || st=$?

# -------------------------------------------------------- 5. decision --

journal() {
	TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s: %s -> %s, schema %s, %s\n' -1 \
		"$1" "$OLD_WHERE" "$NEW_WHERE" "$SCHEMA" "$DIR" >>"$DIR/MIGRATION.log"
}

case $st in
0)
	say cutover "==> 5. GO: validation PASSED ($DIR/validation_report.md)"
	say cutover "cut over: point the application from $OLD_WHERE to $NEW_WHERE"
	say cutover "keep the old server and $DIR/before.tar.gz until the new one has served without problems"
	journal "PASSED, cut over"
	exit 0
	;;
3)
	say review "==> 5. REVIEW: validation WARNING; nothing switched, nothing undone"
	say review "read $DIR/validation_report.md, then either cut over to $NEW, or roll back:"
	say review "  cdb-rollback restore -f -r $DIR/validation_report.json -c $DIR/import.ckpt -a $DIR -u $NEW $DIR/before.tar.gz"
	journal "WARNING, stopped for review"
	exit 3
	;;
1)
	say rollback "==> 5. NO-GO: validation FAILED; rolling back to the snapshot"
	if run rollback cdb-rollback restore -u "$NEW" "${AUTH[@]}" \
		-r "$DIR/validation_report.json" -c "$DIR/import.ckpt" \
		-w "$DIR/rollback.work" -a "$DIR" \
		--report-md "$DIR/rollback_report.md" \
		--report-json "$DIR/rollback_report.json" "$DIR/before.tar.gz"; then
		# The import it undid is over; a rerun starts a new one.
		mv "$DIR/import.ckpt" "$DIR/import.ckpt.rolled-back"
		say rollback "rolled back and verified: $DIR/rollback_report.md"
		journal "FAILED, rolled back"
		exit 4
	fi
	say rollback "the rollback did not complete: $DIR/rollback_report.md; rerun to retry"
	journal "FAILED, rollback incomplete"
	exit 5
	;;
*)
	say validate "validation could not run (status $st); rerun when the cause is fixed"
	exit 1
	;;
esac
