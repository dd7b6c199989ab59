#!/bin/bash
# cdb-import --dry-run --limits: every line that breaks one of the target's
# quotas is reported with its line number, and nothing is written; a real
# import sends batches no larger than the per-write limit.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b

# A stream breaking each limit once, on known lines (no trailer).
node - > "$T/bad.ndjson" <<'JS'
const out = [];
const put = (o) => out.push(JSON.stringify(o));
const keys = (n, v) => Object.fromEntries(Array.from({length: n}, (_, i) => [`k${i}`, v]));
const coll = (name, dimension, metadata = null) =>
	put({kind: 'collection', name, metadata, configuration: null, schema: null, dimension, count: null});
const rec = (collection, id, extra = {}, dim = 3) =>
	put({kind: 'record', collection, id, document: 'd', metadata: {a: 1},
		embedding: Array.from({length: dim}, (_, i) => i / 10), uri: null, ...extra});
put({kind: 'header', format: 'cdb-ndjson', version: 1, source: 'http://x', tenant: 't',
	database: 'd', created: '2026-01-01T00:00:00Z', tool: 'test', embeddings: 'float'});
coll('okay', 3);                                            // 2
rec('okay', 'fine');                                          // 3
rec('okay', 'x'.repeat(129));                                 // 4 id_bytes
rec('okay', 'doc', {document: 'é'.repeat(8193)});             // 5 document_bytes
rec('okay', 'uri', {uri: 'u'.repeat(257)});                   // 6 uri_bytes
rec('okay', 'keys', {metadata: keys(33, 1)});                 // 7 record_metadata_keys
rec('okay', 'key', {metadata: {['k'.repeat(37)]: 1}});        // 8 metadata_key_bytes
rec('okay', 'value', {metadata: {big: 'v'.repeat(4097)}});    // 9 record_metadata_value_bytes
coll('n'.repeat(129), 3);                                   // 10 collection_name_bytes
coll('cmeta', 3, keys(33, 'v'));                            // 11 collection_metadata_keys
coll('cvalue', 3, {note: 'v'.repeat(257)});                 // 12 collection_metadata_value_bytes
coll('wide', 4097);                                         // 13 dimension
rec('wide', 'wide', {}, 4097);                              // 14 dimension
console.log(out.join('\n'));
JS

assert_status 1 cdb-import -q -u "$URL_b" --dry-run --limits chroma-cloud \
	--allow-partial "$T/bad.ndjson" 2> "$T/err"
cat "$T/err" >&2
for want in '4: id "x*": the size of its id is 129, above the limit of 128 (id_bytes)' \
	'5: id "doc": the size of its document is 16386, above the limit of 16384 (document_bytes)' \
	'6: id "uri": the size of its uri is 257, above the limit of 256 (uri_bytes)' \
	'7: id "keys": the number of metadata keys is 33, above the limit of 32 (record_metadata_keys)' \
	'8: id "key": the size of metadata key "k*" is 37, above the limit of 36 (metadata_key_bytes)' \
	'9: id "value": the size of the value of metadata key "big" is 4097, above the limit of 4096 (record_metadata_value_bytes)' \
	'10: collection "n*": the size of its name is 129, above the limit of 128 (collection_name_bytes)' \
	'11: collection "cmeta": the number of metadata keys is 33, above the limit of 32 (collection_metadata_keys)' \
	'12: collection "cvalue": the size of the value of metadata key "note" is 257, above the limit of 256 (collection_metadata_value_bytes)' \
	'13: collection "wide": the dimension is 4097, above the limit of 4096 (dimension)' \
	'14: id "wide": the length of its embedding is 4097, above the limit of 4096 (dimension)'; do
	grep -q "^cdb-import: $T/bad.ndjson:$want\$" "$T/err" || fail "not reported: $want"
done
assert_eq 12 "$(wc -l < "$T/err")" "lines of the dry run's report"
grep -q '11 limits of the target broken; nothing was written' "$T/err" ||
	fail "no summary: $(tail -1 "$T/err")"
assert_eq '[]' "$(api "$URL_b" collections | jq -c '[.[].name]')" "collections after the dry run"

# Without --dry-run the first broken limit stops the import, with its line.
assert_status 1 cdb-import -q -u "$URL_b" --limits chroma-cloud --allow-partial \
	"$T/bad.ndjson" 2> "$T/err"
grep -q "^cdb-import: $T/bad.ndjson:4: id " "$T/err" || fail "unexpected: $(cat "$T/err")"

# A limits file with the same fields; unknown fields are refused.
echo '{"records_per_collection": 2, "id_bytes": 200}' > "$T/lim.json"
assert_status 1 cdb-import -q -u "$URL_b" --dry-run --limits "$T/lim.json" \
	--allow-partial "$T/bad.ndjson" 2> "$T/err"
grep -q "bad.ndjson:5: id \"doc\": the number of records in its collection is 3, above the limit of 2 (records_per_collection)" "$T/err" ||
	fail "records_per_collection not reported: $(cat "$T/err")"
assert_eq 2 "$(wc -l < "$T/err")" "lines of the file limits' report"
echo '{"records_per_wirte": 2}' > "$T/typo.json"
assert_status 2 cdb-import -q -u "$URL_b" --dry-run --limits "$T/typo.json" "$T/bad.ndjson"

# Batches obey the per-write limit: 1000 records go as batches of 300.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" bulk 1000 8 >/dev/null
cdb-export -q -u "$URL_a" > "$T/bulk.ndjson"
cdb-import -u "$URL_b" --limits chroma-cloud "$T/bulk.ndjson" 2> "$T/err"
grep -q '1000 records in 1 collection (1 new), 4 batches of up to 300' "$T/err" ||
	fail "batches: $(cat "$T/err")"
assert_status 2 cdb-import -q -u "$URL_b" -b 500 --limits chroma-cloud --dry-run "$T/bulk.ndjson"
