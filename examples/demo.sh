#!/bin/bash
# examples/demo.sh - the whole runbook in about a minute, on a fresh Debian
# machine: installs what is missing, builds, starts two local Chroma
# servers (old and new) on free ports, fills the old one with the 9,832
# demo chunks, and runs examples/migrate.sh with schemas/default.json:
# pre-flight, backups, migration, validation (PASSED), GO.  Then it rolls
# that back by hand and runs a second migration whose import loses records
# (a faulty cdb-import): validation FAILS and migrate.sh rolls the new
# server back to its snapshot, which the demo checks record by record.
# The servers are always stopped.
#
#   examples/demo.sh [--dir DIR] [--small] [--no-setup] [--old URL --new URL]
#
#   --dir DIR    where everything goes (default: demo-out in the repository;
#                the servers' data, the migration's files and its reports)
#   --small      1,000 records of 32 dimensions (tests/fixtures/validate-old.mjs)
#                instead of the demo's 9,832 of 384; what the CI test runs
#   --no-setup   do not run tests/install-deps and make
#   --old URL --new URL   use these running, empty servers instead of
#                starting two (they are then not stopped)
set -euo pipefail
# The servers started here stop when this script ends, however it ends.
export CDB_SERVER_OWNER=$$
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=$REPO/demo-out SMALL=0 SETUP=1 OLD='' NEW=''
while [ $# -gt 0 ]; do
	case $1 in
	--dir) DEMO=${2:?}; shift ;;
	--small) SMALL=1 ;;
	--no-setup) SETUP=0 ;;
	--old) OLD=${2:?}; shift ;;
	--new) NEW=${2:?}; shift ;;
	*) sed -n '11p' "$0" | sed 's/^# *//' >&2; exit 2 ;;
	esac
	shift
done
if [ -n "$OLD$NEW" ] && { [ -z "$OLD" ] || [ -z "$NEW" ]; }; then
	echo "demo: give both --old and --new, or neither" >&2
	exit 2
fi
START=$SECONDS

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

if [ "$SETUP" = 1 ]; then
	step "installing what is missing (tests/install-deps), building"
	tests/install-deps
	make -s
fi
PATH=$REPO/export:$REPO/import:$REPO/transform:$REPO/validate:$REPO/rollback:$PATH
mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)
M=$DEMO/migration

# Servers: started here (and always stopped, however the demo ends) unless
# given.  A run that was killed may have left its servers up: stop them.
if [ -z "$OLD" ] || [ -z "$NEW" ]; then
	stop() {
		tests/chroma-server stop "$DEMO/old-server" &
		tests/chroma-server stop "$DEMO/new-server"
		wait
	}
	trap stop EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	stop
	rm -rf "$DEMO/old-server" "$DEMO/new-server"
	step "starting two local Chroma servers"
	OLD=$(tests/chroma-server start "$DEMO/old-server")
	NEW=$(tests/chroma-server start "$DEMO/new-server")
fi
echo "old: $OLD"
echo "new: $NEW"
rm -rf "$M" "$DEMO/migration-2"

if [ "$SMALL" = 1 ]; then
	step "filling the old server with 1,000 old-schema chunks"
	node tests/fixtures/validate-old.mjs "$OLD" 250 32 >/dev/null
else
	step "filling the old server with the 9,832 old-schema demo chunks"
	node examples/gen-demo.mjs "$OLD"
fi

# The new server is rarely empty: here it already holds one collection (a
# copy of sergio_humor), which the snapshot keeps and a rollback restores.
step "the new server already holds one collection: sergio_humor"
cdb-export -q -u "$OLD" sergio_humor | cdb-import -q -u "$NEW"

MIGRATE=(examples/migrate.sh --old "$OLD" --new "$NEW"
	-s schemas/default.json --log-dir "$M")

step "migrating: ${MIGRATE[*]}"
st=0
"${MIGRATE[@]}" || st=$?
[ "$st" -eq 0 ] || { echo "demo: the migration should have PASSED (status $st)" >&2; exit 1; }

# After a GO nothing rolls back by itself: the operator does, by hand.
step "rolling the first migration back by hand, to show the second"
cdb-rollback restore -q -f -u "$NEW" -c "$M/import.ckpt" -a "$M" "$M/before.tar.gz"

# A migration that goes wrong: the import loses a quarter of the corpus
# collection (a cdb-import that deletes them once it has imported, first
# on PATH), over 5% of the whole.  Validation must FAIL and roll back.
M=$DEMO/migration-2
mkdir -p "$DEMO/lossy"
cat >"$DEMO/lossy/cdb-import" <<'LOSSY'
#!/bin/bash
"$REAL_IMPORT" "$@" || exit
case " $* " in *" -c "*) ;; *) exit 0 ;; esac
case " $* " in *" --dry-run "*) exit 0 ;; esac
api=$LOSSY_NEW/api/v2/tenants/default_tenant/databases/default_database/collections
post() { curl -fsS -H 'Content-Type: application/json' --data-binary "$2" "$1"; }
id=$(curl -fsS "$api/corpus" | jq -r .id)
n=$(curl -fsS "$api/$id/count")
post "$api/$id/get" "{\"limit\": $((n / 4)), \"include\": []}" |
	jq -c '{ids}' | post "$api/$id/delete" @- >/dev/null
echo "lossy cdb-import: deleted $((n / 4)) records of corpus" >&2
LOSSY
chmod +x "$DEMO/lossy/cdb-import"
step "a second migration whose import loses records: validation must FAIL and roll back"
# The old database has not changed: the first migration's export serves
# again (a finished export is never redone), and its backup stands.
mkdir -p "$M"
cp "$DEMO/migration/old.ndjson" "$M/"
st=0
REAL_IMPORT=$(command -v cdb-import) LOSSY_NEW=$NEW PATH=$DEMO/lossy:$PATH \
	examples/migrate.sh --old "$OLD" --new "$NEW" -s schemas/default.json --log-dir "$M" \
	--no-backup-old || st=$?
[ "$st" -eq 4 ] || { echo "demo: expected a rollback (status 4), got $st" >&2; exit 1; }

# Independent of cdb-rollback's own verification: every record of the new
# server (ids, documents, metadata, embedding bits) is the snapshot's.
step "checking the new server against the snapshot, record by record"
# (jq -S: Chroma returns metadata keys in any order.)
records() { jq -cS 'select(.kind == "record")' | LC_ALL=C sort; }
cdb-rollback list "$M/before.tar.gz"
tar -xzOf "$M/before.tar.gz" --wildcards 'collections/*' | records >"$DEMO/snapshot.records"
cdb-export -q -u "$NEW" --embeddings base64 | records >"$DEMO/restored.records"
if ! cmp -s "$DEMO/snapshot.records" "$DEMO/restored.records"; then
	echo "demo: the new server does not hold the snapshot's records" >&2
	exit 1
fi
echo "the new server holds exactly the snapshot's $(wc -l <"$DEMO/restored.records") records"

step "done in $((SECONDS - START)) s; the reports"
cat <<EOF
  $DEMO/migration/validation_report.md   the first validation, PASSED
  $M/validation_report.md     the second one, FAILED (and .json)
  $M/rollback_report.md       what the rollback restored (and .json)
  $M/failed-*.tar.gz          the failed migration, archived as a snapshot
  $M/before.tar.gz            the snapshot taken before the migration
  $M/MIGRATION.log            one line per decision
  $M/*.log                    one log per step, timestamped
  $M/old.ndjson               the exported stream; try: jq -c 'select(.kind=="collection")' $M/old.ndjson
EOF
