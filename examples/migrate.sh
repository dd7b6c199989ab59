#!/bin/bash
# examples/migrate.sh - the migration runbook as one script: pre-flight,
# backups, migration with checkpoints, validation against the frozen
# export, then the decision: GO (the operator's cutover) or NO-GO
# (rollback).  It composes the five cdb programs and decides on their exit
# statuses; every step is theirs.
#
#   examples/migrate.sh --old URL --new URL -s SCHEMA [--log-dir DIR] [--preflight-only]
#       [--tenant T] [--database D] [--old-tenant T] [--old-database D] [--create-database]
#       [--auth-header NAME] [-b BATCH] [-j JOBS] [--no-backup-old] [--rollback-on-error]
#       [--max-data-loss PCT] [--max-missing N] [--max-divergence PCT] [--warn-divergence PCT]
#       [--sample N] [--queries FILE] [--require-approval FILE] [--cutover CMD] [--smoke CMD]
#       [-P N | --parallel N]
#
# Steps (each logged, with timestamps, to DIR/STEP.log and the terminal):
#   1 preflight  both servers reachable, the source and target databases
#                exist (a missing target is a NO-GO printing the command
#                that creates it, or is created with --create-database),
#                the schema maps every old collection; the old database
#                exported to DIR/old.ndjson (read-only, resumable) and
#                transformed once to DIR/expected.ndjson, which
#                cdb-import --dry-run checks against the new server
#                (dimensions, ids, metadata, existing collections), with
#                rejects in DIR/rejects.ndjson; free disk in DIR.  Nothing
#                has been written to either server.  --preflight-only
#                stops here: GO exits 0, NO-GO 1 (the T-1 dry run).
#   2 backup     cdb-rollback snapshot of the old database, verified:
#                DIR/old-backup.tar.gz (--no-backup-old skips it: then the
#                export, old.ndjson, is the only copy, unverified, and a
#                lost old server is restored with cdb-import from it);
#                then the snapshot of the new one: DIR/before.tar.gz
#   3 import     cdb-import DIR/expected.ndjson -c DIR/import.ckpt
#   4 validate   cdb-validate --expected DIR/expected.ndjson: the new
#                database judged against what was exported and imported,
#                never against the live old server, which may have changed
#                since (it is the search reference, and a source-drift
#                check reports what changed there as a WARNING of its
#                own); thresholds as given: DIR/validation_report.{md,json}
#   5 decision   PASSED: GO, recorded in MIGRATION.log.  With
#                --require-approval FILE the GO waits until FILE exists
#                (its content, the approvers, goes into the log).  Without
#                --cutover it says what to switch and stops; with it, it
#                runs CMD (the operator's switch), then --smoke CMD; a
#                failing smoke test is a NO-GO that rolls back.
#                WARNING: stop for review; nothing switched or undone.
#                FAILED: NO-GO, cdb-rollback restore with the validation
#                report, reports in DIR/rollback_report.{md,json}.
#
# Resuming: run the same command again.  Finished steps are not redone
# (old.ndjson, expected.ndjson and the snapshots only appear when
# complete), an interrupted export or snapshot continues from its
# checkpoint, and the import skips what the server already acknowledged.
# DIR/migration.conf records the servers and the schema: a rerun with
# other ones is refused once anything was written to the new server, and
# allowed (saying what changed) before that, as after a pre-flight NO-GO.
# After a rollback the import checkpoint is retired (by cdb-rollback
# restore), so a rerun imports again from scratch into the restored
# database.  Once a GO is recorded the migration in DIR is over: a rerun
# is refused (validate with cdb-validate, which reports and never rolls
# back, or start a new migration in another --log-dir).
#
# -P N, --parallel N: N shard pipelines (cdb-export --shard K/N) instead
# of one, each with its own files in DIR: old-K.ndjson (its export, with
# export-K.ckpt), expected-K.ndjson and rejects-K.ndjson, import-K.ckpt,
# and the logs export-K.log and import-K.log.  The N exports and
# transforms run at once in step 1, the N imports at once in step 3 (each
# into the same target: cdb-import(1), SHARDS), and step 4 validates once
# against all N expected files as one set.  Every failed shard is named;
# a rerun redoes only the shards that did not finish (a finished import
# is skipped, an unfinished one resumes from its checkpoint).  The
# source-drift check reads the N exports as one.  The default, 1, is the
# single pipeline with the file names above; N is part of the migration
# (migration.conf), and cannot change once anything was written.
#
# A network error that does not clear stops the import and leaves the new
# server as it is for a resume (rerun); --rollback-on-error restores the
# snapshot instead.
#
# Exit status:
#   0  GO: validation PASSED (and the --cutover and --smoke commands
#      succeeded), or --preflight-only and the pre-flight passed
#   1  NO-GO before anything was written (pre-flight), or a step failed
#      (unreachable server, import error, validation could not run, the
#      cutover command failed): see the step's log
#   2  usage error, DIR belongs to another migration, or a GO is recorded
#   3  validation WARNING: stopped for review; nothing switched or undone
#   4  NO-GO after the import (validation FAILED, smoke test failed, or an
#      error with --rollback-on-error): the new database was rolled back
#      to the snapshot, and the restored state verified
#   5  as 4, but the rollback did not complete: see DIR/rollback_report.md;
#      rerunning the script retries it
#
# Programs: the cdb-* programs on PATH, or else those of the build tree
# this script belongs to.  Tokens come from CHROMA_TOKEN, as for every cdb
# program (one token for both servers); --auth-header names the header.
set -euo pipefail

usage() {
	sed -n '8,13p' "$0" | cut -c 3- >&2
	exit 2
}

OLD='' NEW='' SCHEMA='' DIR=migration PREFLIGHT_ONLY=0 BACKUP_OLD=1
TENANT='' DATABASE='' OLD_TENANT='' OLD_DATABASE='' CREATE_DB=0
ROLLBACK_ON_ERROR=0 APPROVAL='' CUTOVER='' SMOKE='' MAX_MISSING=100 P=1
IMPORT_OPTS=() AUTH=() VALIDATE_OPTS=()
while [ $# -gt 0 ]; do
	case $1 in
	--old | --old-url) OLD=${2:?}; shift ;;
	--new | --new-url) NEW=${2:?}; shift ;;
	-s | --schema) SCHEMA=${2:?}; shift ;;
	--log-dir) DIR=${2:?}; shift ;;
	--preflight-only) PREFLIGHT_ONLY=1 ;;
	--tenant) TENANT=${2:?}; shift ;;
	--database) DATABASE=${2:?}; shift ;;
	--old-tenant) OLD_TENANT=${2:?}; shift ;;
	--old-database) OLD_DATABASE=${2:?}; shift ;;
	--create-database) CREATE_DB=1 ;;
	--auth-header) AUTH=(--auth-header "${2:?}"); shift ;;
	-b | -j) IMPORT_OPTS+=("$1" "${2:?}"); shift ;;
	--backup-old) BACKUP_OLD=1 ;;
	--no-backup-old) BACKUP_OLD=0 ;;
	--rollback-on-error) ROLLBACK_ON_ERROR=1 ;;
	--max-missing) MAX_MISSING=${2:?}; shift ;;
	--max-data-loss | --max-divergence | --warn-divergence | --sample | --queries)
		VALIDATE_OPTS+=("$1" "${2:?}"); shift ;;
	--require-approval) APPROVAL=${2:?}; shift ;;
	--cutover) CUTOVER=${2:?}; shift ;;
	--smoke) SMOKE=${2:?}; shift ;;
	-P | --parallel) P=${2:?}; shift ;;
	-h | --help) usage ;;
	*) echo "migrate.sh: unknown argument: $1" >&2; usage ;;
	esac
	shift
done
if [ -z "$OLD" ] || [ -z "$NEW" ] || [ -z "$SCHEMA" ]; then
	usage
fi
[ -r "$SCHEMA" ] || { echo "migrate.sh: cannot read schema $SCHEMA" >&2; exit 2; }
case $MAX_MISSING in
'' | *[!0-9]*) echo "migrate.sh: --max-missing: expected a number of records" >&2; exit 2 ;;
esac
[[ $P =~ ^[1-9][0-9]*$ ]] || { echo "migrate.sh: -P: expected a number of shards from 1" >&2; exit 2; }

# The programs: on PATH (make install), or else beside this script in its
# build tree (after make), or say what is missing.
here=$(cd "$(dirname "$0")/.." && pwd)
for p in export transform import validate rollback; do
	command -v "cdb-$p" >/dev/null && continue
	if [ -x "$here/$p/cdb-$p" ]; then
		PATH=$here/$p:$PATH
	else
		echo "migrate.sh: cdb-$p not found on PATH nor in $here/$p;" \
			"run make (and make install, or add the build tree to PATH)" >&2
		exit 2
	fi
done
VALIDATE_OPTS+=(--max-missing "$MAX_MISSING")

# Where each side lives: --tenant/--database for both, --old-* for the old.
NEW_AT=(${TENANT:+--tenant "$TENANT"} ${DATABASE:+--database "$DATABASE"})
OLD_TENANT=${OLD_TENANT:-$TENANT} OLD_DATABASE=${OLD_DATABASE:-$DATABASE}
OLD_AT=(${OLD_TENANT:+--tenant "$OLD_TENANT"} ${OLD_DATABASE:+--database "$OLD_DATABASE"})
# For people: "http://new:8000 (tenant acme, database prod)".
where() { printf '%s%s' "$1" "${2:+ ($2)}"; }
OLD_WHERE=$(where "$OLD" "${OLD_TENANT:+tenant $OLD_TENANT}${OLD_TENANT:+${OLD_DATABASE:+, }}${OLD_DATABASE:+database $OLD_DATABASE}")
NEW_WHERE=$(where "$NEW" "${TENANT:+tenant $TENANT}${TENANT:+${DATABASE:+, }}${DATABASE:+database $DATABASE}")

mkdir -p "$DIR"

# The pipelines: one, whose files have no number (K empty), or shards 1..P
# with -K in their names.
SHARDS=('')
[ "$P" -gt 1 ] && SHARDS=($(seq 1 "$P"))
OLDS=() EXPECTED=() CKPTS=() FAILED=()
for k in "${SHARDS[@]}"; do
	OLDS+=("$DIR/old${k:+-$k}.ndjson")
	EXPECTED+=("$DIR/expected${k:+-$k}.ndjson")
	CKPTS+=(-c "$DIR/import${k:+-$k}.ckpt")
done

# started: an import checkpoint exists, so the new server may be written.
started() {
	local k
	for k in "${SHARDS[@]}"; do
		[ -e "$DIR/import${k:+-$k}.ckpt" ] && return 0
	done
	return 1
}

# shards FUNC: FUNC K for every shard K at once; FAILED lists those that
# failed, each waited for by its own pid.
shards() {
	local k pids=()
	FAILED=()
	for k in "${SHARDS[@]}"; do
		"$1" "$k" &
		pids[k]=$!
	done
	for k in "${SHARDS[@]}"; do
		wait "${pids[k]}" || FAILED+=("$k")
	done
	[ ${#FAILED[@]} = 0 ]
}

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

# journal DECISION: one line in MIGRATION.log.
journal() {
	TZ=UTC printf '%(%Y-%m-%dT%H:%M:%SZ)T %s: %s -> %s, schema %s, %s\n' -1 \
		"$1" "$OLD_WHERE" "$NEW_WHERE" "$SCHEMA" "$DIR" >>"$DIR/MIGRATION.log"
}

# ------------------------------------------------------- same migration --

# After a GO the new database is the application's: nothing here may
# touch it again, and validating it is a report, never a rollback.
gone=$(awk '/^[^ ]* GO / { go = $0 } /^[^ ]* NO-GO / { go = "" } END { print go }' \
	"$DIR/MIGRATION.log" 2>/dev/null || true)
if [ -n "$gone" ]; then
	echo "migrate.sh: $DIR: a GO is recorded, this migration is over:" >&2
	echo "  $gone" >&2
	echo "to check the new database, validate only (a report, never a rollback):" >&2
	echo "  cdb-validate --new-url $NEW ${NEW_AT[*]} --expected ${EXPECTED[*]} -s $SCHEMA --report-md FILE" >&2
	echo "to migrate again, start a new migration with another --log-dir" >&2
	exit 2
fi

# A rerun must be the same migration: the checkpoints mean nothing for
# other servers or another schema.  Before anything was written to the new
# server (no snapshot, no import), the directory is simply reused.
conf=$(printf 'old %s %s/%s\nnew %s %s/%s\nschema %s\n' \
	"$OLD" "$OLD_TENANT" "$OLD_DATABASE" "$NEW" "$TENANT" "$DATABASE" \
	"$(cksum <"$SCHEMA")")
[ "$P" -gt 1 ] && conf+=$'\n'"shards $P"
if [ -e "$DIR/migration.conf" ] && [ "$conf" != "$(cat "$DIR/migration.conf")" ]; then
	differs=$(diff <(cat "$DIR/migration.conf") <(printf '%s\n' "$conf") |
		sed -n 's/^> \([a-z]*\) .*/\1/p' | sed 's/^old$/the old server or database/;
			s/^new$/the new server or database/; s/^schema$/the schema/;
			s/^shards$/number of shards (-P)/' | paste -sd, | sed 's/,/, /g' || true)
	if [ -e "$DIR/before.tar.gz" ] || [ -e "$DIR/import.ckpt" ] ||
		compgen -G "$DIR/import-[0-9]*.ckpt" >/dev/null; then
		echo "migrate.sh: $DIR holds another migration, already under way; changed: $differs" >&2
		echo "use another --log-dir to start a new one" >&2
		exit 2
	fi
	echo "migrate.sh: $DIR: nothing was written yet; reusing it for the changed $differs" >&2
	case $differs in
	*"old server"*) rm -f "$DIR/old.ndjson" "$DIR/old.ndjson.partial" "$DIR/export.ckpt" ;;
	esac
	case $differs in
	*"old server"* | *shards*)
		rm -f "$DIR"/old-[0-9]*.ndjson "$DIR"/old-[0-9]*.ndjson.partial "$DIR"/export-[0-9]*.ckpt ;;
	esac
	rm -f "$DIR/expected.ndjson" "$DIR/rejects.ndjson" "$DIR/old-backup.tar.gz" \
		"$DIR"/expected-[0-9]*.ndjson "$DIR"/rejects-[0-9]*.ndjson
fi
printf '%s\n' "$conf" >"$DIR/migration.conf"

# ------------------------------------------------------ 1. pre-flight --

say preflight "==> 1. pre-flight: $OLD_WHERE -> $NEW_WHERE, schema $SCHEMA, in $DIR"
nogo() {
	say preflight "NO-GO: $1; nothing was written to either server"
	exit 1
}

# Both servers answer, every old collection has a target, and no target
# collection is in the way: a stream with every collection and no record
# (a where filter no record matches) through the real pipe, checked by
# cdb-import --dry-run.  Seconds, before hours of export.
if ! started; then
	dbopt=()
	[ "$CREATE_DB" = 1 ] && dbopt=(--create-database)
	run preflight cdb-export -q -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" \
		--where '{"cdb_preflight_matches_nothing": "x"}' |
		run preflight cdb-transform -q -s "$SCHEMA" |
		run preflight cdb-import --dry-run "${dbopt[@]}" -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" ||
		{
			# A missing target database: say how to create it.
			if tail -n 5 "$DIR/preflight.log" | grep -q 'cdb-import: tenant .* has no database'; then
				say preflight "create the target database, then rerun:"
				say preflight "  curl -sS -X POST -H 'Content-Type: application/json' -d '{\"name\": \"${DATABASE:-default_database}\"}' $NEW/api/v2/tenants/${TENANT:-default_tenant}/databases"
				say preflight "or rerun with --create-database"
			fi
			nogo "a server is unreachable, a database is missing, or the schema does not fit (see above)"
		}
fi

# prepare K: the export of shard K (of everything when K is empty), to a
# file, resumable; old.ndjson appears only when complete.  Then transformed
# once: the stream that is imported is the one validated against.
# Records the schema rejects are listed in rejects.ndjson; any makes a
# NO-GO, since they would not be migrated.  Returns 1 when the export
# failed, 2 when the schema rejects records.
prepare() {
	local s=${1:+-$1} step=preflight shard=()
	[ -n "$1" ] && step=export$s shard=(--shard "$1/$P")
	if [ ! -e "$DIR/old$s.ndjson" ]; then
		run export$s cdb-export -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" "${shard[@]}" \
			--embeddings base64 -o "$DIR/old$s.ndjson.partial" -c "$DIR/export$s.ckpt" ||
			return 1
		mv "$DIR/old$s.ndjson.partial" "$DIR/old$s.ndjson"
	fi
	if [ ! -e "$DIR/expected$s.ndjson" ]; then
		rm -f "$DIR/rejects$s.ndjson"
		run $step cdb-transform -s "$SCHEMA" --rejects "$DIR/rejects$s.ndjson" \
			"$DIR/old$s.ndjson" >"$DIR/expected$s.ndjson.partial" || return 2
		mv "$DIR/expected$s.ndjson.partial" "$DIR/expected$s.ndjson"
	fi
}
if [ "$P" = 1 ]; then
	st=0
	prepare '' || st=$?
	[ $st = 1 ] && nogo "the export failed (rerun to resume it)"
	[ $st = 2 ] && nogo "the schema rejects records (listed in $DIR/rejects.ndjson)"
else
	say preflight "exporting and transforming $P shards at once: $DIR/export-K.log"
	shards prepare ||
		nogo "shard(s) ${FAILED[*]} of $P: the export failed or the schema rejects records (see $DIR/export-K.log, $DIR/rejects-K.ndjson; rerun to resume them)"
fi
dbopt=()
[ "$CREATE_DB" = 1 ] && dbopt=(--create-database)
for k in "${SHARDS[@]}"; do
	run preflight cdb-import --dry-run "${dbopt[@]}" -c "$DIR/import${k:+-$k}.ckpt" -u "$NEW" \
		"${NEW_AT[@]}" "${AUTH[@]}" "$DIR/expected${k:+-$k}.ndjson" ||
		nogo "the transformed stream${k:+ of shard $k/$P} does not fit the new server"
done

# Room for the backup, the snapshot, and the archive of the failed state
# that a rollback writes: each at most about the size of the exported
# stream (all compressed; a target that already holds much more needs
# more).
need=$(($(stat -c %s "${OLDS[@]}" | awk '{ n += $1 } END { print n }') / 1024 * (2 + BACKUP_OLD)))
free=$(df -Pk "$DIR" | awk 'NR == 2 { print $4 }')
say preflight "disk: ${free} KiB free in $DIR, ${need} KiB wanted"
[ "$free" -ge "$need" ] || nogo "not enough free disk in $DIR"
say preflight "validation thresholds: ${VALIDATE_OPTS[*]}"
say preflight "GO: pre-flight passed"
if [ "$PREFLIGHT_ONLY" = 1 ]; then
	say preflight "--preflight-only: stopping here; nothing was written to either server"
	exit 0
fi

# restore WHY: the NO-GO after something was written: the new database
# back to its snapshot, verified; exits 4, or 5 when it did not complete.
restore() {
	local report=() c=() k
	for k in "${SHARDS[@]}"; do
		[ -e "$DIR/import${k:+-$k}.ckpt" ] && c+=(-c "$DIR/import${k:+-$k}.ckpt")
	done
	[ -e "$DIR/validation_report.json" ] && [ "$1" = "validation FAILED" ] &&
		report=(-r "$DIR/validation_report.json")
	say rollback "==> NO-GO: $1; rolling back the new database to $DIR/before.tar.gz"
	if run rollback cdb-rollback restore -f -u "$NEW" "${AUTH[@]}" \
		"${report[@]}" "${c[@]}" \
		-w "$DIR/rollback.work" -a "$DIR" \
		--report-md "$DIR/rollback_report.md" \
		--report-json "$DIR/rollback_report.json" "$DIR/before.tar.gz"; then
		say rollback "rolled back and verified: $DIR/rollback_report.md"
		journal "NO-GO ($1), rolled back"
		exit 4
	fi
	say rollback "the rollback did not complete: $DIR/rollback_report.md; rerun to retry"
	journal "NO-GO ($1), rollback incomplete"
	exit 5
}

# ---------------------------------------------------------- 2. backups --

# The old database, before anything is written anywhere: a verified
# snapshot, kept until the new one has served without problems (the
# runbook's 30 days; cdb-rollback prune --keep-days).
if [ "$BACKUP_OLD" = 1 ] && [ ! -e "$DIR/old-backup.tar.gz" ]; then
	say backup "==> 2. backup of the old database"
	run backup cdb-rollback snapshot -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" \
		-o "$DIR/old-backup.tar.gz.partial" &&
		run backup cdb-rollback verify -q "$DIR/old-backup.tar.gz.partial" || {
		rm -f "$DIR/old-backup.tar.gz.partial"
		say backup "the backup of the old database failed; nothing was written to the new server; rerun to retry"
		exit 1
	}
	mv "$DIR/old-backup.tar.gz.partial" "$DIR/old-backup.tar.gz"
elif [ "$BACKUP_OLD" = 0 ]; then
	say backup "==> 2. no backup of the old database (--no-backup-old): $DIR/old.ndjson, the export, is its only copy here (not verified as a snapshot is; cdb-import loads it back)"
fi

# Taken once, before the first record is written: a rerun must not
# snapshot a half-migrated database.  An interrupted snapshot never has
# its final name, and the same command resumes it.
if [ ! -e "$DIR/before.tar.gz" ]; then
	if [ "$CREATE_DB" = 1 ]; then
		head -n 1 "${EXPECTED[0]}" |
			run snapshot cdb-import -q --allow-partial --create-database \
				-u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" || {
			say snapshot "the target database could not be created; rerun to retry"
			exit 1
		}
	fi
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

# import K: shard K's import (everything when K is empty), resuming from
# its checkpoint; a finished one says so and writes nothing.
import_shard() {
	local s=${1:+-$1}
	run import$s cdb-import -c "$DIR/import$s.ckpt" -u "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" \
		"${IMPORT_OPTS[@]}" "$DIR/expected$s.ndjson"
}
if [ "$P" = 1 ]; then
	say import "==> 3. migration: cdb-import $DIR/expected.ndjson, checkpoint $DIR/import.ckpt"
	import_shard '' || FAILED=(1)
else
	say import "==> 3. migration: $P shards at once: cdb-import $DIR/expected-K.ndjson, checkpoint $DIR/import-K.ckpt, log $DIR/import-K.log"
	shards import_shard || say import "shard(s) ${FAILED[*]} of $P failed (see $DIR/import-K.log); the others finished"
fi
if [ ${#FAILED[@]} != 0 ]; then
	if [ "$ROLLBACK_ON_ERROR" = 1 ]; then
		restore "the import failed (--rollback-on-error)"
	fi
	say import "the migration stopped; rerun the same command to resume it (the new server is left as it is), or roll back with:"
	say import "  cdb-rollback restore -f -u $NEW ${CKPTS[*]} -a $DIR $DIR/before.tar.gz"
	exit 1
fi

# -------------------------------------------------------- 4. validate --

# Against the frozen export: the new database must hold what was
# imported.  The old server is the search reference, and is asked what
# changed since the export (a WARNING of its own, never a rollback).
say validate "==> 4. validation against ${EXPECTED[*]}"
src=(--old-url "$OLD" ${OLD_TENANT:+--old-tenant "$OLD_TENANT"}
	${OLD_DATABASE:+--old-database "$OLD_DATABASE"})
if [ "$P" = 1 ]; then
	src+=(--source-export "$DIR/old.ndjson")
else
	for ((k = 1; k <= P; k++)); do
		src+=(--source-export "$DIR/old-$k.ndjson")
	done
fi
if ! cdb-export -q -u "$OLD" "${OLD_AT[@]}" "${AUTH[@]}" \
	--where '{"cdb_preflight_matches_nothing": "x"}' >/dev/null 2>&1; then
	say validate "the old server does not answer: validating against the export alone, without the search reference and the source-drift check"
	src=()
fi
st=0
run validate cdb-validate --new-url "$NEW" "${NEW_AT[@]}" "${AUTH[@]}" \
	--expected "${EXPECTED[@]}" -s "$SCHEMA" "${src[@]}" "${VALIDATE_OPTS[@]}" \
	--report-md "$DIR/validation_report.md" \
	--report-json "$DIR/validation_report.json" || st=$?

# -------------------------------------------------------- 5. decision --

case $st in
0)
	say decision "==> 5. GO: validation PASSED ($DIR/validation_report.md)"
	if [ -n "$APPROVAL" ]; then
		say decision "waiting for the sign-off: $APPROVAL (create it, naming the approvers)"
		while [ ! -e "$APPROVAL" ]; do sleep 2; done
		while IFS= read -r line; do say decision "approved: $line"; done <"$APPROVAL"
	fi
	journal "GO (validation PASSED)"
	if [ -z "$CUTOVER" ]; then
		say decision "nothing was switched: point the application from $OLD_WHERE to $NEW_WHERE"
		say decision "keep the old server, $DIR/old-backup.tar.gz and $DIR/before.tar.gz until the new one has served without problems"
		exit 0
	fi
	if ! run cutover bash -c "$CUTOVER"; then
		say cutover "the cutover command failed: $CUTOVER; check where the application points; nothing rolled back"
		journal "cutover by $CUTOVER FAILED"
		exit 1
	fi
	journal "cut over by $CUTOVER"
	if [ -n "$SMOKE" ] && ! run smoke bash -c "$SMOKE"; then
		say smoke "the smoke test failed: $SMOKE; switch the application back to $OLD_WHERE"
		restore "smoke test failed"
	fi
	[ -n "$SMOKE" ] && journal "smoke test $SMOKE passed"
	say cutover "cut over by: $CUTOVER; keep the old server and the backups until the new one has served without problems"
	exit 0
	;;
3)
	say review "==> 5. REVIEW: validation WARNING; nothing switched, nothing undone"
	say review "read $DIR/validation_report.md, then either cut over to $NEW, or roll back:"
	say review "  cdb-rollback restore -f ${CKPTS[*]} -a $DIR -u $NEW $DIR/before.tar.gz"
	journal "WARNING, stopped for review"
	exit 3
	;;
1)
	restore "validation FAILED"
	;;
*)
	if [ "$ROLLBACK_ON_ERROR" = 1 ]; then
		restore "validation could not run (--rollback-on-error)"
	fi
	say validate "validation could not run (status $st); rerun when the cause is fixed"
	exit 1
	;;
esac
