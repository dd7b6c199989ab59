#!/bin/bash
# What a dry run promises and an import leaves behind, against a real
# server (issue 12): --dry-run applies Chroma's name and metadata rules
# and what the target can store (a server without base64 support, as
# Chroma 1.0.x, cannot store array metadata); cdb-import fails when the
# server shows array metadata on records that were never given any (the
# pinned Chroma reuses values of records deleted under the same name);
# a closed stdout is a write error, never a socket that took its place.
. "$(dirname "$0")/../lib.sh"

start_server a
RETRAILER=$REPO/tests/fixtures/retrailer
HEADER='{"kind":"header","format":"cdb-ndjson","version":1,"source":"http://x:1","tenant":"default_tenant","database":"default_database","created":"2026-01-01T00:00:00Z","tool":"test"}'

# stream NAME DIM N META: a stream of N records in collection NAME
# (dimension DIM, or null), each with metadata META.
stream() {
	local name=$1 dim=$2 n=$3 meta=$4 i
	{
		echo "$HEADER"
		echo "{\"kind\":\"collection\",\"name\":\"$name\",\"metadata\":null,\"configuration\":{\"hnsw\":{\"space\":\"l2\"}},\"dimension\":$dim}"
		for ((i = 0; i < n; i++)); do
			echo "{\"kind\":\"record\",\"collection\":\"$name\",\"id\":\"r$i\",\"document\":\"d$i\",\"metadata\":$meta,\"embedding\":[0.5,$i,0.25],\"uri\":null}"
		done
	} | "$RETRAILER"
}

# dry_fails FILE LINE PATTERN [URL]: a dry run of FILE fails at LINE.
dry_fails() {
	local f=$1 line=$2 pattern=$3 url=${4:-$URL_a}
	if cdb-import -q --dry-run -u "$url" "$f" 2> "$T/err"; then
		fail "dry run passed $f ($pattern)"
	fi
	grep -q "^cdb-import: $f:$line: .*$pattern" "$T/err" ||
		fail "dry run of $f: want line $line and '$pattern', got: $(cat "$T/err")"
}

# --- the dry run ---------------------------------------------------------
stream ../x 3 2 null > "$T/dotdot.ndjson"
dry_fails "$T/dotdot.ndjson" 2 'collection name "../x" is not one Chroma accepts'
stream a..b 3 2 null > "$T/twodots.ndjson"
dry_fails "$T/twodots.ndjson" 2 'holds ".."'
stream 10.0.0.1 3 2 null > "$T/ip.ndjson"
dry_fails "$T/ip.ndjson" 2 'is an IP address'
stream empty-emb null 2 null | sed 's/"embedding":\[0.5,[0-9]*,0.25\]/"embedding":[]/' |
	"$RETRAILER" > "$T/empty.ndjson"
dry_fails "$T/empty.ndjson" 3 'embedding has no values'
stream dollar 3 2 '{"$op":1}' > "$T/dollar.ndjson"
dry_fails "$T/dollar.ndjson" 3 "metadata key \"\\\$op\" starts with '\\\$'"
# Each of those is refused by the server too: the dry run says no more.
for f in dotdot ip empty dollar; do
	if cdb-import -q -u "$URL_a" "$T/$f.ndjson" 2>/dev/null; then
		fail "the import of $f.ndjson succeeded: the dry run was too strict"
	fi
done

# Array metadata: fine for this server, not for one that cannot store it.
stream arrays 3 3 '{"tags":["a","b"]}' > "$T/arrays.ndjson"
cdb-import -q --dry-run -u "$URL_a" "$T/arrays.ndjson"
start_proxy old "$URL_a" OLD_PREFLIGHT=1
dry_fails "$T/arrays.ndjson" 3 'metadata "tags" is an array, which the target cannot store' "$P_old"
stream scalars 3 3 '{"tag":"a"}' > "$T/scalars.ndjson"
cdb-import -q --dry-run -u "$P_old" "$T/scalars.ndjson"

# --- records the server altered -------------------------------------------
# A collection with array metadata, deleted; the name imported again with
# records that have none: the pinned Chroma shows the old arrays on them.
stream reuse 3 40 '{"tags":["old","stale"],"n":1}' > "$T/first.ndjson"
cdb-import -q -u "$URL_a" "$T/first.ndjson"
api_method DELETE "$URL_a" collections/reuse > /dev/null
stream reuse 3 40 '{"n":2}' > "$T/second.ndjson"
st=0
cdb-import -q -u "$URL_a" "$T/second.ndjson" 2> "$T/err" || st=$?
id=$(collection_id "$URL_a" reuse)
shown=$(api "$URL_a" "collections/$id/get" '{"include":["metadatas"],"limit":100}' |
	jq '[.metadatas[] | select(.tags != null)] | length')
if [ "$shown" -gt 0 ]; then
	assert_eq 1 "$st" "exit status when the server altered $shown records"
	grep -q "^cdb-import: collection \"reuse\": the server shows array metadata on $shown records" "$T/err" ||
		fail "altered records message: $(cat "$T/err")"
else
	# A server without the defect: the import is clean and says so.
	assert_eq 0 "$st" "exit status: $(cat "$T/err")"
fi
# Records given arrays are not counted as altered.
stream given 3 20 '{"tags":["x"]}' > "$T/given.ndjson"
cdb-import -q -u "$URL_a" "$T/given.ndjson"

# --- closed standard output -----------------------------------------------
st=0
cdb-export -q -u "$URL_a" >&- 2> "$T/err" || st=$?
[ "$st" -ne 0 ] || fail "cdb-export with stdout closed exited 0"
