#!/bin/bash
# cdb-rollback prune: keeps the newest N snapshots of each database, or
# those younger than D days, lists without deleting under --dry-run, and
# never deletes the only snapshot of a database that verifies.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
cd "$T"
# Three snapshots of one database (s3 the newest: ties in the manifest's
# one-second clock go by name), one of another.
for s in s1 s2 s3; do
	cdb-rollback snapshot -q -u "$URL_a" -o $s.tar.gz
done
api "$URL_a" /api/v2/tenants/default_tenant/databases '{"name": "other"}' >/dev/null
cdb-rollback snapshot -q -u "$URL_a" --database other -o other.tar.gz

# --keep 2: the oldest goes, the other database's only one stays.
cdb-rollback prune --dry-run --keep 2 s*.tar.gz other.tar.gz >out
grep -q '^would delete s1.tar.gz' out || fail "dry run: $(cat out)"
[ -e s1.tar.gz ] || fail "--dry-run deleted s1.tar.gz"
cdb-rollback prune --keep 2 s*.tar.gz other.tar.gz >out
assert_eq "other.tar.gz s2.tar.gz s3.tar.gz" "$(ls *.tar.gz | xargs)" "kept by --keep 2"
grep -q '^deleted *s1.tar.gz' out || fail "prune: $(cat out)"

# The newest is damaged (its manifest cannot be read): it is left alone,
# and does not count as one of the newest, so --keep 1 keeps s2.
printf 'garbage' | dd of=s3.tar.gz bs=1 seek=200 conv=notrunc status=none
cdb-rollback prune --keep 1 s2.tar.gz s3.tar.gz >out
assert_eq "other.tar.gz s2.tar.gz s3.tar.gz" "$(ls *.tar.gz | xargs)" "kept beside a damaged one"
grep -q '^keep *s3.tar.gz.*left alone' out || fail "why s3: $(cat out)"

# --keep-days 0: everything is too old, yet each database keeps its
# newest verified snapshot.
rm s3.tar.gz
cdb-rollback snapshot -q -u "$URL_a" -o s4.tar.gz
cdb-rollback prune --keep-days 0 s2.tar.gz s4.tar.gz other.tar.gz >out
assert_eq "other.tar.gz s4.tar.gz" "$(ls *.tar.gz | xargs)" "kept by --keep-days 0"
grep -q '^keep *s4.tar.gz.*no other kept one verifies' out || fail "why s4: $(cat out)"
cdb-rollback verify s4.tar.gz >/dev/null || fail "the kept snapshot does not verify"

# No rule is a usage error.
assert_status 2 cdb-rollback prune s4.tar.gz 2>/dev/null
