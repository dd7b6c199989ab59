#!/bin/bash
# cdb-export --from-dir / --from-archive on hostile files: a pickle with
# opcodes beyond plain data, a Python 0.4-0.6 object pickle, an hnswlib
# header claiming more elements than its file holds, a truncated level-0
# file, a sqlite file that is not Chroma's, a file that is not sqlite, and
# archives with links, "..", absolute names or no database.  Each is a
# clear error naming the file (and offset) and exit status 1, never a
# crash (tests/sanitize runs this under ASan/UBSan).
. "$(dirname "$0")/../lib.sh"

start_server a
node - "$URL_a" <<'JS'
const base = `${process.argv[2]}/api/v2/tenants/default_tenant/databases/default_database`;
const post = async (p, b) => {
	const r = await fetch(base + p, { method: 'POST', headers: { 'content-type': 'application/json' },
		body: JSON.stringify(b) });
	if (!r.ok) throw new Error(`${p}: ${r.status} ${await r.text()}`);
	return r.json();
};
const c = await post('/collections', { name: 'hostile', configuration: { hnsw: { sync_threshold: 10, batch_size: 5 } } });
const ids = Array.from({ length: 30 }, (_, i) => `id-${i}`);
await post(`/collections/${c.id}/add`, { ids, embeddings: ids.map((_, i) => [i, 1, 2, 3]) });
JS
stop_server a
D=$T/a
seg=$(dirname "$(ls "$D"/*/index_metadata.pickle)")
cdb-export -q --from-dir "$D" > /dev/null || fail "the intact directory is not read"

# expect_error DIR PATTERN: exit status 1 and a message matching PATTERN.
expect_error() {
	local dir=$1 pattern=$2
	assert_status 1 cdb-export -q --from-dir "$dir" > /dev/null 2> "$T/err"
	grep -q -- "$pattern" "$T/err" || fail "expected /$pattern/, got: $(cat "$T/err")"
}
copy() { rm -rf "$T/c" && cp -r "$D" "$T/c" && S=$T/c/${seg##*/}; }

# Pickles: a global (os.system) and REDUCE; a Python object.
copy
printf '\x80\x03cos\nsystem\nX\x02\x00\x00\x00idR.' > "$S/index_metadata.pickle"
expect_error "$T/c" 'index_metadata.pickle: offset 2: the pickle names a Python class'
copy
printf '\x80\x03}(X\x01\x00\x00\x00aNNRu.' > "$S/index_metadata.pickle"
expect_error "$T/c" 'index_metadata.pickle: offset 12: opcode 0x52 is not allowed'
copy
head -c 40 "$D/${seg##*/}/index_metadata.pickle" > "$S/index_metadata.pickle"
expect_error "$T/c" 'index_metadata.pickle: offset [0-9]*: truncated'

# hnswlib: more elements claimed than data_level0.bin holds; truncated.
copy
printf '\xff\x00' | dd of="$S/header.bin" bs=1 seek=20 conv=notrunc status=none
printf '\xff\x00' | dd of="$S/header.bin" bs=1 seek=12 conv=notrunc status=none
expect_error "$T/c" 'data_level0.bin: offset [0-9]*: size does not hold'
copy
truncate -s 1000 "$S/data_level0.bin"
expect_error "$T/c" 'data_level0.bin: offset [0-9]*: size does not hold'
copy
truncate -s 50 "$S/header.bin"
expect_error "$T/c" 'header.bin: offset 50: header.bin is not 100 bytes'

# sqlite files that are not Chroma's.
mkdir "$T/other"
sqlite3 "$T/other/chroma.sqlite3" 'CREATE TABLE notes (x TEXT)'
expect_error "$T/other" 'not a Chroma database (no table collections)'
head -c 8192 /dev/urandom > "$T/other/chroma.sqlite3"
expect_error "$T/other" 'chroma.sqlite3: file is not a database'
expect_error "$T/nowhere" 'nowhere/chroma.sqlite3: No such file'

# Archives: only regular files with relative names, one directory.
mkdir "$T/tmp"
export TMPDIR=$T/tmp
expect_archive() {
	local arc=$1 pattern=$2
	assert_status 1 cdb-export -q --from-archive "$arc" > /dev/null 2> "$T/err"
	grep -q -- "$pattern" "$T/err" || fail "expected /$pattern/, got: $(cat "$T/err")"
}
mkdir -p "$T/l/d" && ln -s /etc/passwd "$T/l/d/chroma.sqlite3"
tar -C "$T/l" -czf "$T/link.tar.gz" d
expect_archive "$T/link.tar.gz" 'member "d/chroma.sqlite3" is not a regular file'
mkdir -p "$T/u/x" && cp "$D/chroma.sqlite3" "$T/u/x/"
tar -C "$T/u/x" -czf "$T/dots.tar.gz" --transform 's|^|../../|' chroma.sqlite3
expect_archive "$T/dots.tar.gz" 'absolute or with ".."'
tar -czPf "$T/abs.tar.gz" "$T/u/x/chroma.sqlite3"
expect_archive "$T/abs.tar.gz" 'absolute or with ".."'
tar -C "$T" -czf "$T/two.tar.gz" u/x/chroma.sqlite3 a/chroma.sqlite3
expect_archive "$T/two.tar.gz" 'more than one data directory'
echo 'not a tar' | gzip > "$T/junk.tar.gz"
expect_archive "$T/junk.tar.gz" 'junk.tar.gz'
tar -C "$T/l" -czf "$T/empty.tar.gz" --exclude chroma.sqlite3 d
expect_archive "$T/empty.tar.gz" 'no chroma.sqlite3 in the backup'
[ ! -e "$T/../chroma.sqlite3" ] || fail "a member was written outside"
# The refused extractions left nothing in their TMPDIR.
[ -z "$(ls -A "$T/tmp")" ] || fail "left behind: $(ls -A "$T/tmp")"
