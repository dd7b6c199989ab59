#!/bin/bash
# A write that lands while a collection is being exported is reported: the
# count taken at the start and the one after its last page differ.  The
# write comes from a proxy (tests/fixtures/proxy.mjs) in front of a real
# server, after the collection's first count and before its second page.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" busy 30 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" calm 25 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" sieve 30 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" rush 30 4

proxy() { # proxy NAME: one that adds a record before the second /get
	start_proxy "$1" "$URL_a" MUTATE_GET=2 MUTATE_DIM=4
}
proxy plain
proxy filtered
proxy parallel
P=$P_plain

# One get at a time: the short page is read last, and its offset is the
# count at the end.
assert_status 0 cdb-export -j 1 -b 10 -u "$P" -o "$T/out.ndjson" busy calm \
	2> "$T/err"
want='cdb-export: warning: collection "busy" changed during the export: 30 records at the start, 31 at the end, 31 exported; export again when writes have stopped'
grep -qxF "$want" "$T/err" || fail "no change warning: $(cat "$T/err")"
assert_eq 1 "$(grep -c 'changed during' "$T/err")" "warnings (calm is unchanged)"
# The stream is still whole: the new record is in it, and it reads back.
assert_eq 1 "$(jq -c 'select(.id=="mutation-2")' "$T/out.ndjson" | wc -l)" \
	"the record written during the export"
assert_eq 30 "$(jq 'select(.kind=="collection" and .name=="busy") | .count' \
	"$T/out.ndjson")" "count at the start in the collection line"
start_server b
assert_status 0 cdb-import -q -u "$URL_b" "$T/out.ndjson"

# With a filter the count at the end is a request of its own: the new
# record (no metadata) is not exported, but the collection grew.
assert_status 0 cdb-export -b 10 -u "$P_filtered" -o "$T/f.ndjson" \
	--where '{"chunk_index":{"$gte":0}}' sieve 2> "$T/err"
want='cdb-export: warning: collection "sieve" changed during the export: 30 records at the start, 31 at the end, 30 exported; export again when writes have stopped'
grep -qxF "$want" "$T/err" || fail "no change warning with a filter: $(cat "$T/err")"

# Gets in flight together (the default): the short page may be read before
# the write lands while an earlier page is still on its way, so the count
# at the end is a request made after the last page; the warning says so
# whichever page the new record fell into.
assert_status 0 cdb-export -b 10 -u "$P_parallel" -o "$T/p.ndjson" rush calm \
	2> "$T/err"
grep -q '^cdb-export: warning: collection "rush" changed during the export: 30 records at the start, 31 at the end, 3[01] exported; export again when writes have stopped$' "$T/err" ||
	fail "no change warning with gets in flight: $(cat "$T/err")"
assert_eq 1 "$(grep -c 'changed during' "$T/err")" "warnings with gets in flight"
