#!/bin/bash
# The demo migration through real servers: gen-demo.mjs fills the old
# server with 9,832 messy old-schema chunks; cdb-export | cdb-transform -s
# schemas/default.json | cdb-import moves them; a re-export of the new
# server must hold exactly what the schema promises (computed for every
# record by an independent jq rendering of the schema,
# tests/fixtures/default-schema.jq), with no rejects, and embeddings that
# went through the transform byte for byte.
. "$(dirname "$0")/../lib.sh"

SCHEMA=$REPO/schemas/default.json
start_server old
start_server new
node "$REPO/examples/gen-demo.mjs" "$URL_old" > /dev/null

# The pipe, as in the README, with both streams kept.
st=0
cdb-export -q -u "$URL_old" | tee "$T/old.ndjson" |
	cdb-transform -s "$SCHEMA" 2> "$T/err" |
	tee "$T/new.ndjson" | cdb-import -q -u "$URL_new" || st=$?
assert_eq 0 "$st" "pipeline: $(cat "$T/err")"
grep -q '^cdb-transform: 9832 records in, 9832 out, 0 rejected, ' "$T/err" ||
	fail "transform summary: $(cat "$T/err")"

# Records per target collection, as the server counts them.
for pair in personality:2611 rhetorical:2387 humor:1946 corpus:2888; do
	name=${pair%:*}
	got=$(api "$URL_new" "collections/$(collection_id "$URL_new" "$name")/count")
	assert_eq "${pair#*:}" "$got" "records in $name"
done
assert_eq "corpus humor personality rhetorical" \
	"$(api "$URL_new" collections | jq -r '.[].name' | sort | xargs)" "collections on the new server"

cdb-export -q -u "$URL_new" > "$T/landed.ndjson"
# jq reads the lines without their embeddings: 20 times faster.
noemb() { sed 's/"embedding":\[[^]]*\]/"embedding":null/' "$1"; }
noemb "$T/landed.ndjson" > "$T/landed.meta"
noemb "$T/old.ndjson" > "$T/old.meta"

# Collections: the schema's metadata patch, the source's HNSW space.
assert_eq 'corpus {"deployment":"new","schema":"v2"} l2
humor {"deployment":"new","schema":"v2"} l2
personality {"deployment":"new","schema":"v2"} cosine
rhetorical {"deployment":"new","schema":"v2"} cosine' \
	"$(jq -r 'select(.kind=="collection") | "\(.name) \(.metadata | to_entries | sort_by(.key) | from_entries | tojson) \(.configuration.hnsw.space)"' \
		"$T/landed.meta" | sort)" "collection metadata and spaces"

# Every record's metadata is exactly what the schema promises.
jq -r -L "$REPO/tests/fixtures" 'include "default-schema";
	select(.kind == "record") | "\(.id)\t\(target)\t\(promised | sorted | tojson)"' \
	"$T/old.meta" | LC_ALL=C sort > "$T/expected.tsv"
jq -r 'select(.kind=="record") | "\(.id)\t\(.collection)\t\(.metadata | to_entries | sort_by(.key) | from_entries | tojson)"' \
	"$T/landed.meta" | LC_ALL=C sort > "$T/landed.tsv"
assert_eq 9832 "$(wc -l < "$T/expected.tsv")" "expected records"
if ! diff "$T/expected.tsv" "$T/landed.tsv" > "$T/diff"; then
	fail "landed metadata differs from the schema's promise: $(head -n 6 "$T/diff")"
fi

# Invariants of the 12-field schema, checked on what landed.
bad=$(jq -r 'select(.kind=="record") | .metadata as $m | select(
	([$m | keys[] | select(. != "derived_from")] | length) != 12 or
	($m.source_id | test("^[a-z]+/[A-Za-z0-9._/-]+$") | not) or
	(["essay","interview","transcript","social","book"] | index([$m.source_type])) == null or
	(["en","es"] | index([$m.language])) == null or
	$m.created_at < 946684800 or $m.created_at > 4102444800 or
	$m.chunk_index < 0 or $m.chunk_count < 1 or $m.chunk_index >= $m.chunk_count or
	$m.token_count < 1 or $m.token_count > 8192 or
	($m.tags | length) == 0 or ($m.tags | map(select(. != ascii_downcase)) | length) > 0 or
	$m.citation != "if://chunk/\(.collection)/\(.id)" or $m.schema_version != 2
	) | .id' "$T/landed.meta" | head -n 5)
assert_eq "" "$bad" "records breaking the 12-field schema"
# Ints stayed ints (jq cannot tell 3 from 3.0; the text can).
if grep -Eq '"(created_at|chunk_index|chunk_count|token_count|schema_version)":-?[0-9]+[.eE]' \
	"$T/landed.ndjson"; then
	fail "an int field landed as a float"
fi
# Reference fields point at records of the corpus collection.
jq -r 'select(.kind=="record" and .collection=="corpus") | .id' "$T/landed.meta" | sort > "$T/corpus.ids"
jq -r 'select(.kind=="record") | .metadata.derived_from // empty' "$T/landed.meta" | sort -u > "$T/refs"
[ "$(wc -l < "$T/refs")" -gt 100 ] || fail "too few derived_from references to test"
assert_eq "" "$(comm -23 "$T/refs" "$T/corpus.ids" | head -n 3)" "dangling derived_from references"

# Embeddings through the transform: the same text, record by record.
# emb FILE: "ID EMBEDDING-TEXT" per record, sorted.
emb() {
	awk -F'"embedding":' '/^\{"kind":"record"/ {
		split($1, a, "\"id\":\""); split(a[2], b, "\""); e = $2
		sub(/,"uri".*/, "", e); print b[1], e }' "$1" | LC_ALL=C sort
}
emb "$T/old.ndjson" > "$T/old.emb"
emb "$T/new.ndjson" > "$T/new.emb"
assert_eq 9832 "$(wc -l < "$T/new.emb")" "embeddings in the transformed stream"
cmp -s "$T/old.emb" "$T/new.emb" || fail "embeddings changed in cdb-transform"
# ... and in the new server, for the l2 collections Chroma stores as given
# (cosine ones come back normalised; see README, Fidelity).
emb "$T/landed.ndjson" | grep -E '^sergio_(humor|corpus)-' > "$T/landed.emb"
grep -E '^sergio_(humor|corpus)-' "$T/old.emb" > "$T/old-l2.emb"
assert_eq 4834 "$(wc -l < "$T/landed.emb")" "l2 embeddings landed"
cmp -s "$T/old-l2.emb" "$T/landed.emb" || fail "l2 embeddings differ on the new server"

# Base64 embeddings pass through as the same strings.
cdb-export -q -u "$URL_old" --embeddings base64 sergio_humor > "$T/old64.ndjson"
cdb-transform -q -s "$SCHEMA" "$T/old64.ndjson" > "$T/new64.ndjson"
assert_eq 1946 "$(emb "$T/new64.ndjson" | grep -c ' "[A-Za-z0-9+/=]*"$')" "base64 embeddings"
cmp -s <(emb "$T/old64.ndjson") <(emb "$T/new64.ndjson") || fail "base64 embeddings changed"

# The transformed stream's trailer is its own: counts and digest check
# out independently.
assert_eq "$("$REPO/tests/fixtures/retrailer" "$T/new.ndjson" | tail -n 1)" \
	"$(tail -n 1 "$T/new.ndjson")" "trailer of the transformed stream"
