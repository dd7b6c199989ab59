#!/bin/bash
# Hostile and partial snapshots, and reports that cannot be written
# (issue 12): a manifest whose fields differ from its members' own
# collection lines is refused by verify, and by restore before it touches
# the server; a restore whose report could not be written fails.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" docs 40 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" faq 35 4
mkdir "$T/work" "$T/x" "$T/y"
cd "$T/work"
cdb-rollback snapshot -q -u "$URL_a" -o good.tar.gz
tar -xzf good.tar.gz -C "$T/x"
m1=collections/0001-docs.ndjson
m2=collections/0002-faq.ndjson
cp -r "$T/x/collections" "$T/y/"
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig 5 4
before=$(api "$URL_a" collections | jq -r '[.[].name] | sort | join(",")')

refused() { snapshot_refused "$URL_a" "$before" "$@"; }

# A manifest edited without its members (digests intact): every field
# restore would use is checked against the member's collection line.
edited() {
	local name=$1 filter=$2 want=$3
	jq -c "$filter" "$T/x/manifest.json" >"$T/y/manifest.json"
	tar -czf "$name.tar.gz" -C "$T/y" "$m1" "$m2" manifest.json
	refused "$name.tar.gz" "$want"
}
edited records '.records = 82' 'the manifest says 82 records, its collections hold 75'
edited meta '.collections[0].metadata = {"owner": "evil"}' \
	"member \"$m1\": the manifest's collection metadata differs"
edited conf '.collections[1].configuration.hnsw.space = "ip"' \
	"member \"$m2\": the manifest's collection configuration differs"
edited dim '.collections[1].dimension = 8' \
	"member \"$m2\": the manifest's collection dimension differs"
edited tenant '.tenant = "other"' "the manifest's tenant differs"

# An unknown "scope" is a manifest this reader cannot vouch for: strict.
edited scope '.scope = "evil"' 'manifest: unknown "scope"'

# Bytes appended to a good snapshot: verify vouches for the whole file.
cp good.tar.gz appended.tar.gz
printf 'junk\n' >>appended.tar.gz
refused appended.tar.gz "appended.tar.gz: 5 bytes after the end of the compressed data"

# Lenient, as documented in cdb-snapshot(5): a tar without its end blocks
# (everything with a meaning is there and checked), and a member whose
# trailer line lacks its newline (complete, and its counts and digest
# match).
python3 - good.tar.gz noend.tar.gz <<'PY'
import gzip, io, sys, tarfile
raw = gzip.decompress(open(sys.argv[1], 'rb').read())
last = tarfile.open(fileobj=io.BytesIO(raw)).getmembers()[-1]
end = last.offset_data + (last.size + 511) // 512 * 512
assert end < len(raw) and raw[end:].strip(b'\0') == b''
open(sys.argv[2], 'wb').write(gzip.compress(raw[:end]))
PY
cdb-rollback verify -q noend.tar.gz
head -c -1 "$T/x/$m2" >"$T/y/$m2"
jq -c --arg d "xxh64:$(xxhsum -H1 <"$T/y/$m2" | cut -d' ' -f1)" \
	--argjson n "$(stat -c %s "$T/y/$m2")" \
	'.collections[1].digest = $d | .collections[1].bytes = $n' \
	"$T/x/manifest.json" >"$T/y/manifest.json"
tar -czf nonl.tar.gz -C "$T/y" "$m1" "$m2" manifest.json
cdb-rollback verify -q nonl.tar.gz
cp "$T/x/$m2" "$T/y/$m2"

# A report that was asked for and could not be written is a failure,
# though the restore itself worked.
assert_status 1 cdb-rollback restore -q -u "$URL_a" -C mig \
	--report-json /dev/full good.tar.gz 2>err
grep -qF 'the report was not written' err || fail "report failure: $(cat err)"
assert_eq 'docs,faq' "$(api "$URL_a" collections | jq -r '[.[].name] | sort | join(",")')" \
	"collections after the restore"

# A snapshot bomb: one line of 300 MiB in a 300 KB file, with a manifest
# that matches it.  verify stops at the line limit, naming the line, in
# bounded memory.
python3 - bomb.tar.gz $((300 << 20)) <<'PY'
import io, json, subprocess, sys, tarfile
path, size = sys.argv[1], int(sys.argv[2])
class X(io.RawIOBase):
    def __init__(self, n): self.left = n
    def read(self, n=-1):
        n = min(self.left, 1 << 20 if n is None or n < 0 else n)
        self.left -= n
        return b'x' * n
member = 'collections/0001-docs.ndjson'
h = subprocess.run("head -c %d /dev/zero | tr '\\0' x | xxhsum -H1" % size,
                   shell=True, capture_output=True, text=True, check=True)
manifest = json.dumps({"format": "cdb-snapshot", "version": 1, "records": 0,
    "collections": [{"name": "docs", "member": member, "count": 0,
        "bytes": size, "digest": "xxh64:" + h.stdout.split()[0]}]}).encode()
with tarfile.open(path, 'w:gz', compresslevel=1) as t:
    i = tarfile.TarInfo(member); i.size = size
    t.addfile(i, X(size))
    i = tarfile.TarInfo('manifest.json'); i.size = len(manifest)
    t.addfile(i, io.BytesIO(manifest))
PY
/usr/bin/time -f %M -o rss cdb-rollback verify bomb.tar.gz 2>err && fail "bomb verified"
grep -qF "member \"collections/0001-docs.ndjson\", line 1: line is longer than 44040192 bytes" err ||
	fail "bomb: $(cat err)"
# About 55 MiB here (150 under AddressSanitizer); the line alone is 300.
rss=$(tail -1 rss)
[ "$rss" -lt $((256 << 10)) ] || fail "verify of a bomb used $rss KiB"
