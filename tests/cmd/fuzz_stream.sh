#!/bin/bash
# A short run of the stream fuzzer (tests/fuzz/stream-fuzz.mjs): mutants
# of a real export, half of them with a fresh trailer, read by
# cdb-import --dry-run and by an independent oracle of cdb-ndjson(5); any
# disagreement, crash or hang fails.  CDB_FUZZ_COUNT and CDB_FUZZ_SEED
# change the run (50 mutants, seed 4242).  A long run is done by hand:
# start a server that holds none of the stream's collections, then e.g.
#   node tests/fuzz/stream-fuzz.mjs --url URL --count 100000 STREAM
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" > /dev/null
cdb-export -q -u "$URL_a" > "$T/full.ndjson"
# A few records of each collection keep the mutants small, so that most
# edits land on structure, and the run short.
awk -F'"collection":"' '!/^\{"kind":"record"/ { print; next }
	{ split($2, a, "\""); if (n[a[1]]++ < 6) print }' "$T/full.ndjson" |
	"$REPO/tests/fixtures/retrailer" > "$T/seed.ndjson"
grep -q '"kind":"record"' "$T/seed.ndjson" || fail "no records in the seed stream"
cdb-import -q --dry-run -u "$URL_b" "$T/seed.ndjson"

cd "$T"
node "$REPO/tests/fuzz/stream-fuzz.mjs" --url "$URL_b" --count "${CDB_FUZZ_COUNT:-50}" \
	--seed "${CDB_FUZZ_SEED:-4242}" seed.ndjson ||
	fail "the fuzzer found disagreements (mutants kept in $T with CDB_KEEP_TMP=1)"
