#!/bin/bash
# Smoke test of the test infrastructure itself: a real Chroma server starts,
# stores records through the v2 API and returns them, and keeps them across
# a restart on the same data directory.

# URL_* variables are set by start_server:
# shellcheck disable=SC2154
# shellcheck source=SCRIPTDIR/../lib.sh
. "$(dirname "$0")/../lib.sh"

start_server a

hb=$(api "$URL_a" /api/v2/heartbeat)
assert_eq true "$(jq 'has("nanosecond heartbeat")' <<<"$hb")" "heartbeat reply"

id=$(create_collection "$URL_a" smoke-test '{"purpose":"smoke"}')
if [ -z "$id" ] || [ "$id" = null ]; then
	fail "no collection id"
fi
assert_eq "$id" "$(collection_id "$URL_a" smoke-test)" "collection id by name"

api "$URL_a" "collections/$id/add" '{
	"ids": ["r1", "r2"],
	"embeddings": [[0.1, 0.2, 0.3], [1.5, -2.0, 3.25]],
	"documents": ["first", "second"],
	"metadatas": [{"n": 1}, {"n": 2, "tag": "x"}]
}' >/dev/null

assert_eq 2 "$(api "$URL_a" "collections/$id/count")" "count after add"

got=$(api "$URL_a" "collections/$id/get" '{"include": ["embeddings", "documents", "metadatas"]}')
assert_eq '["r1","r2"]' "$(jq -c '.ids | sort' <<<"$got")" "ids"
assert_eq '[1.5,-2,3.25]' "$(jq -c '.embeddings[.ids | index("r2")]' <<<"$got")" "embedding of r2"
assert_eq '"second"' "$(jq -c '.documents[.ids | index("r2")]' <<<"$got")" "document of r2"
assert_eq '{"n":2,"tag":"x"}' "$(jq -cS '.metadatas[.ids | index("r2")]' <<<"$got")" "metadata of r2"

# An API error is reported as a failure, not silently ignored.
assert_status 1 api "$URL_a" "collections/$id/add" '{"ids": ["bad"], "embeddings": [[1, 2]]}'
assert_eq 2 "$(api "$URL_a" "collections/$id/count")" "count after rejected add"

# The data survives a restart on the same directory (new port).
old_url=$URL_a
stop_server a
if curl -fs --max-time 2 "$old_url/api/v2/heartbeat" >/dev/null 2>&1; then
	fail "server still answers after stop_server"
fi
start_server a
assert_eq 2 "$(api "$URL_a" "collections/$(collection_id "$URL_a" smoke-test)/count")" "count after restart"
