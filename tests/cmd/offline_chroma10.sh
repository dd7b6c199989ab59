#!/bin/bash
# cdb-export --from-dir on a directory written by Chroma 1.0.x (npm
# chromadb 3.0.0, binding 0.1.3; tests/chroma-server with
# CDB_CHROMA_VERSION=1.0): its older layout (configuration in
# config_json_str, no schema, no array metadata) reads as the records and
# collection lines that server gives online.
. "$(dirname "$0")/../lib.sh"

export CDB_CHROMA_VERSION=1.0 CDB_NO_ARRAYS=1
"$REPO/tests/chroma-server" install
start_server a
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" > /dev/null
node "$REPO/tests/fixtures/offline-writes.mjs" "$URL_a"
cdb-export -q -u "$URL_a" > "$T/online.ndjson"
stop_server a
ls "$T"/a/*/index_metadata.pickle > /dev/null || fail "no persisted index"

cdb-export -q --from-dir "$T/a" > "$T/offline.ndjson"
head -1 "$T/offline.ndjson" | jq -e '.chroma_version | test("sysdb 9")' > /dev/null ||
	fail "version not found: $(head -1 "$T/offline.ndjson")"
node "$REPO/tests/fixtures/samestream.mjs" "$T/online.ndjson" "$T/offline.ndjson" ||
	fail "offline export of a Chroma 1.0 directory differs from online"
