#!/bin/bash
# Tenants and databases must exist: a mistyped source database and a
# missing target database are NO-GO before anything is written (the
# latter printing the command that creates it); the log directory of a
# NO-GO is reused when the rerun fixes the mistake; --create-database
# creates the target.  The programs themselves name a missing database.
. "$(dirname "$0")/../lib.sh"

M=$T/m
migrate_setup 20 8 --log-dir "$M"
nothing_written() {
	assert_eq "" "$(api "$URL_new" collections | jq -r '.[].name' | xargs)" "new server after $1"
	[ ! -e "$M/before.tar.gz" ] && [ ! -e "$M/old-backup.tar.gz" ] || fail "$1 went on: $(ls "$M")"
}

# The programs: a database that does not exist is an error naming it.
assert_status 2 cdb-export -u "$URL_old" --database nosuchdb 2>"$T/e"
grep -q 'tenant "default_tenant" has no database "nosuchdb"' "$T/e" || fail "export: $(cat "$T/e")"
assert_status 2 cdb-rollback snapshot -u "$URL_old" --tenant nosuch -o "$T/s.tar.gz" 2>"$T/e"
grep -q 'tenant "nosuch" has no database "default_database"' "$T/e" || fail "snapshot: $(cat "$T/e")"
cdb-export -q -u "$URL_old" sergio_humor >"$T/h.ndjson"
assert_status 2 cdb-import --dry-run -u "$URL_new" --database prod_v2 "$T/h.ndjson" 2>"$T/e"
grep -q 'has no database "prod_v2"; create it first, or give --create-database' "$T/e" ||
	fail "import --dry-run: $(cat "$T/e")"

# A mistyped source database.
assert_status 1 "${MIGRATE[@]}" --old-database prdo 2>"$T/e"
grep -q 'cdb-export: tenant "default_tenant" has no database "prdo"' "$T/e" || fail "source: $(cat "$T/e")"
grep -q 'NO-GO' "$T/e" || fail "no NO-GO: $(cat "$T/e")"
nothing_written "a mistyped source"

# A target database that does not exist: the command that creates it.
assert_status 1 "${MIGRATE[@]}" --old-database default_database --database prod_v2 2>"$T/e"
# (The log directory of the NO-GO before is reused: nothing was written.)
grep -q 'nothing was written yet; reusing it for the changed the old server or database, the new server or database' "$T/e" ||
	fail "reuse: $(head -n 3 "$T/e")"
cmd=$(sed -n 's/.*\[preflight\]   \(curl -sS -X POST .*\)/\1/p' "$T/e")
[ -n "$cmd" ] || fail "no command to create the database: $(cat "$T/e")"
nothing_written "a missing target"
(eval "$cmd") >/dev/null || fail "the printed command failed: $cmd"
# The database now there, the rerun passes.
assert_status 0 "${MIGRATE[@]}" --old-database default_database --database prod_v2 \
	--preflight-only 2>"$T/e"

# --create-database: created when the migration writes.
M=$T/m2
assert_status 0 "${MIGRATE[@]}" --log-dir "$M" --old-database default_database \
	--database created_db --create-database 2>"$T/e"
assert_eq 80 "$(cdb-export -q -u "$URL_new" --database created_db | jq -c 'select(.kind == "record")' | wc -l)" \
	"records in the created database"

# The first hour: a URL with a query string, --version, CHROMA_URL.
assert_eq 20 "$(cdb-export -q -u "$URL_old/?x=1" sergio_humor | jq -c 'select(.kind == "record")' | wc -l)" \
	"export from URL?x=1"
for p in export transform import validate rollback; do
	assert_eq "cdb-$p 0.1.0" "$(cdb-$p --version)" "cdb-$p --version"
done
CHROMA_URL=$URL_new cdb-validate --expected "$M/expected.ndjson" --database created_db -s "$REPO/schemas/default.json" \
	--report-json "$T/v.json" 2>"$T/e" || fail "cdb-validate with CHROMA_URL: $(cat "$T/e")"
jq -e '.new_server.url == "'"$URL_new"'"' "$T/v.json" >/dev/null || fail "new server: $(jq -c .new_server "$T/v.json")"
