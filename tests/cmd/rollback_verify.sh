#!/bin/bash
# Snapshots are ordinary compressed tars that verify, list, and read with
# the stock tools; verify catches a flipped byte and a truncated file;
# an existing snapshot is not overwritten by accident.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
cd "$T"

cdb-rollback snapshot -q -u "$URL_a" -o s.tar.gz
cdb-rollback verify s.tar.gz >out
grep -q 's.tar.gz: ok: 4 collections, 305 records' out || fail "verify: $(cat out)"
cdb-rollback list s.tar.gz >out
grep -Eq '^fid-l2 +230 +16 l2 ' out || fail "list: $(cat out)"
assert_eq 600 "$(stat -c %a s.tar.gz)" "snapshot file mode"

# GNU tar reads it; the manifest's digests are XXH64 of the members.
assert_eq 'collections/0001-fid-cosine.ndjson collections/0002-fid-empty.ndjson collections/0003-fid-ip.ndjson collections/0004-fid-l2.ndjson manifest.json' \
	"$(tar -tzf s.tar.gz | xargs)" "members"
tar -xzOf s.tar.gz manifest.json >manifest.json
tar -xzOf s.tar.gz collections/0004-fid-l2.ndjson >l2.ndjson
assert_eq "$(jq -r '.collections[3].digest' manifest.json)" \
	"xxh64:$(xxhsum -H1 <l2.ndjson | cut -d' ' -f1)" "member digest"
# Each member is a stream of its own that the other tools read.
start_server b
cdb-import -q -u "$URL_b" l2.ndjson
assert_eq 230 "$(api "$URL_b" "collections/$(collection_id "$URL_b" fid-l2)/count")" \
	"records imported from one member"

# zstd and xz, by name or by option.
cdb-rollback snapshot -q -u "$URL_a" -o s.tar.zst
cdb-rollback snapshot -q -u "$URL_a" -z xz -o s.xz-snapshot
for f in s.tar.zst s.xz-snapshot; do
	cdb-rollback verify -q "$f" || fail "$f does not verify"
done
jq -e '.compression == "zstd"' <(cdb-rollback list --json s.tar.zst) >/dev/null ||
	fail "zstd snapshot not marked zstd"
zstd -dc s.tar.zst | tar -t >/dev/null || fail "zstd cannot read s.tar.zst"
xz -dc s.xz-snapshot | tar -t >/dev/null || fail "xz cannot read the xz snapshot"

# A flipped byte in a record: uncompressed, the member digest catches it.
cdb-rollback snapshot -q -u "$URL_a" -o s.tar
off=$(grep -boa '"id":"rec-100"' s.tar | head -1 | cut -d: -f1)
[ -n "$off" ] || fail "record not found in the uncompressed snapshot"
cp s.tar flipped.tar
printf 'X' | dd of=flipped.tar bs=1 seek=$((off + 8)) conv=notrunc status=none
cmp -s s.tar flipped.tar && fail "test edit changed nothing"
assert_status 1 cdb-rollback verify flipped.tar 2>err
grep -q 'flipped.tar: member "collections/0004-fid-l2.ndjson": digest mismatch' err ||
	fail "unexpected message: $(cat err)"

# In the compressed file, anywhere: the decompressor or the digest.
size=$(stat -c %s s.tar.gz)
for at in 300 $((size / 2)) $((size - 40)); do
	cp s.tar.gz flipped.tar.gz
	b=$(od -An -tu1 -j "$at" -N1 s.tar.gz | tr -d ' ')
	printf "\\$(printf %o $((b ^ 0x55)))" |
		dd of=flipped.tar.gz bs=1 seek="$at" conv=notrunc status=none
	assert_status 1 cdb-rollback verify -q flipped.tar.gz 2>err
	grep -q 'flipped.tar.gz: ' err || fail "no message for a flip at $at"
done

# Truncated anywhere, including at a member boundary and by one byte.
for keep in 100 $((size / 3)) $((size - 1)); do
	head -c "$keep" s.tar.gz >cut.tar.gz
	assert_status 1 cdb-rollback verify -q cut.tar.gz 2>err
	grep -Eq 'truncated' err || fail "cut at $keep: $(cat err)"
done
tsize=$(stat -c %s s.tar)
mstart=$(grep -boa 'manifest.json' s.tar | head -1 | cut -d: -f1)
head -c "$mstart" s.tar >cut.tar
assert_status 1 cdb-rollback verify -q cut.tar 2>err
grep -q 'no manifest' err || fail "cut before the manifest: $(cat err)"
[ "$mstart" -lt "$tsize" ] || fail "manifest offset"

# list and verify refuse what is not a snapshot at all.
echo 'not a tar' >junk.tar.gz
assert_status 1 cdb-rollback verify -q junk.tar.gz 2>/dev/null
assert_status 1 cdb-rollback list no-such-file.tar.gz 2>/dev/null

# An existing snapshot is kept unless -f; with -f it is replaced whole.
before=$(xxhsum -H1 <s.tar.gz)
assert_status 2 cdb-rollback snapshot -q -u "$URL_a" -o s.tar.gz 2>err
grep -q 's.tar.gz exists' err || fail "overwrite: $(cat err)"
assert_eq "$before" "$(xxhsum -H1 <s.tar.gz)" "snapshot changed by a refused run"
cdb-rollback snapshot -q -f -u "$URL_a" -o s.tar.gz fid-ip
assert_eq fid-ip "$(cdb-rollback list --json s.tar.gz | jq -r '[.collections[].name] | join(",")')" \
	"replaced snapshot"
# A snapshot of a collection that does not exist is a usage error.
assert_status 2 cdb-rollback snapshot -q -u "$URL_a" -o none.tar.gz nope 2>/dev/null
[ -z "$(ls none.tar.gz* 2>/dev/null)" ] || fail "a failed snapshot left a file"
# So is a database that does not exist, found before anything is written.
assert_status 2 cdb-rollback snapshot -q -u "$URL_a" --database nosuchdb -o nodb.tar.gz 2>err
grep -qF 'has no database "nosuchdb"' err || fail "snapshot of a missing database: $(cat err)"
[ -z "$(ls nodb.tar.gz* 2>/dev/null)" ] || fail "a snapshot of a missing database left a file"
