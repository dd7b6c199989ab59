#!/bin/bash
# Crafted snapshots, built with GNU tar from a good one: ../ paths,
# absolute paths, symbolic links, members the manifest does not name, a
# member that writes to another collection, something after the
# manifest.  verify and restore refuse each, restore before touching the
# server, and nothing is written outside the working directory.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" docs 50 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" faq 20 4
mkdir "$T/work" "$T/x"
cd "$T/work"
cdb-rollback snapshot -q -u "$URL_a" -o good.tar.gz
tar -xzf good.tar.gz -C "$T/x"
m1=collections/0001-docs.ndjson
m2=collections/0002-faq.ndjson
# The crafting itself makes valid snapshots.
tar -czf remade.tar.gz -C "$T/x" "$m1" "$m2" manifest.json
cdb-rollback verify -q remade.tar.gz || fail "a remade snapshot does not verify"

# After the snapshot, the server changes: a restore would change it back.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig 5 4
before=$(api "$URL_a" collections | jq -r '[.[].name] | sort | join(",")')

refused() { snapshot_refused "$URL_a" "$before" "$@"; }

echo 'evil' >"$T/x/evil.ndjson"
# ../ path (GNU tar keeps it only with -P).
tar -czPf dotdot.tar.gz -C "$T/x" "$m1" --transform 's,^evil,../evil,' \
	evil.ndjson --transform 's,^,,' "$m2" manifest.json 2>/dev/null
tar -tzf dotdot.tar.gz 2>/dev/null | grep -x '../evil.ndjson' >/dev/null || fail "crafting ../ failed"
refused dotdot.tar.gz 'member "../evil.ndjson" has a ".." path component'

# Absolute path.
tar -czPf abs.tar.gz -C "$T/x" "$m1" "$T/x/evil.ndjson" "$m2" manifest.json \
	2>/dev/null
refused abs.tar.gz "member \"$T/x/evil.ndjson\" has an absolute path"

# A symbolic link in place of a member.
mkdir -p "$T/y/collections"
cp "$T/x/manifest.json" "$T/y/"
cp "$T/x/$m1" "$T/y/$m1"
ln -s /etc/passwd "$T/y/$m2"
tar -czf link.tar.gz -C "$T/y" "$m1" "$m2" manifest.json
refused link.tar.gz "member \"$m2\" is a symbolic link"

# Extra members: one named like a collection, one not.
cp "$T/x/evil.ndjson" "$T/x/collections/0003-extra.ndjson"
tar -czf extra.tar.gz -C "$T/x" "$m1" collections/0003-extra.ndjson "$m2" manifest.json
refused extra.tar.gz 'member "collections/0003-extra.ndjson" is not named in the manifest'
tar -czf notes.tar.gz -C "$T/x" "$m1" evil.ndjson "$m2" manifest.json
refused notes.tar.gz 'member "evil.ndjson" is not part of a cdb snapshot'

# Something after the manifest.
tar -czf after.tar.gz -C "$T/x" "$m1" manifest.json "$m2"
refused after.tar.gz "member \"$m2\" comes after the manifest"

# A member that would write into another collection than the manifest
# says, with consistent digests: the restore must not create or touch it.
jq -c '.collections[0].name = "victim"' "$T/x/manifest.json" >"$T/y/manifest.json"
rm "$T/y/$m2"
cp "$T/x/$m2" "$T/y/$m2"
tar -czf other.tar.gz -C "$T/y" "$m1" "$m2" manifest.json
refused other.tar.gz "member \"$m1\" holds collection \"docs\", the manifest says \"victim\""

# A manifest that was edited (a count) without its member.
jq -c '.collections[1].count = 21' "$T/x/manifest.json" >"$T/y/manifest.json"
tar -czf count.tar.gz -C "$T/y" "$m1" "$m2" manifest.json
refused count.tar.gz "member \"$m2\" holds 20 records, the manifest says 21"

# Nothing was written where a member name pointed: the only files are
# the test's own and the reports of the refused restores.
assert_eq 'a work x y' "$(ls "$T" | xargs)" "files beside the working directory"
assert_eq 'err rollback_report.json rollback_report.md' \
	"$(ls | grep -v '\.tar\.gz$' | xargs)" "files in the working directory"
jq -e '.status == "FAILED" and .verified == false and (.error | test("member"))' \
	rollback_report.json >/dev/null || fail "report of a refused restore"
