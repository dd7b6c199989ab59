#!/bin/bash
# When cdb-validate cannot validate - a server unreachable, an input file
# missing, damaged or malformed, bad options - it exits 2, says why, and
# replaces any earlier report with an ERROR report that recommends nothing.
. "$(dirname "$0")/../lib.sh"

start_server db
node "$REPO/tests/fixtures/validate-old.mjs" "$URL_db" 10 4 >/dev/null
cdb-export -q -u "$URL_db" | cdb-transform -q -s "$REPO/schemas/default.json" \
	> "$T/expected.ndjson"
# The migration's targets go to the same server: it is old and new at once.
cdb-import -q -u "$URL_db" "$T/expected.ndjson"
schema=$REPO/schemas/default.json
closed=http://127.0.0.1:1

# A report from an earlier run that must not survive a failed one.
stale() { echo '{"overall_status":"PASSED","rollback_triggered":false}' > "$T/r.json"; }

stale
assert_status 2 cdb-validate --old-url "$URL_db" --new-url "$closed" -s "$schema" \
	--report-json "$T/r.json" --report-md "$T/r.md" 2> "$T/err"
grep -q "^cdb-validate: could not validate: new server: .*127.0.0.1:1.*connect" "$T/err" ||
	fail "unreachable new server: $(cat "$T/err")"
assert_eq 'ERROR false null' "$(jq -r '"\(.overall_status) \(.rollback_triggered) \(.rollback_reason)"' \
	"$T/r.json")" "report of an unreachable server"
jq -r .error "$T/r.json" | grep -q connect || fail "no error in the report"
grep -q '^\*\*Overall status: ERROR\*\*' "$T/r.md" || fail "markdown: $(head -3 "$T/r.md")"

stale
assert_status 2 cdb-validate -q --old-url "$closed" --new-url "$URL_db" -s "$schema" \
	--report-json "$T/r.json" 2> "$T/err"
grep -q "could not validate: old server: " "$T/err" || fail "unreachable old server: $(cat "$T/err")"
assert_eq ERROR "$(jq -r .overall_status "$T/r.json")" "old server unreachable"

# Input files.
assert_status 2 cdb-validate -q --expected "$T/none.ndjson" --new-url "$URL_db" 2> "$T/err"
grep -q "none.ndjson: No such file" "$T/err" || fail "missing file: $(cat "$T/err")"
head -n 5 "$T/expected.ndjson" > "$T/cut.ndjson"
assert_status 2 cdb-validate -q --expected "$T/cut.ndjson" --new-url "$URL_db" 2> "$T/err"
grep -q "cut.ndjson:6: .*without a trailer" "$T/err" || fail "truncated stream: $(cat "$T/err")"
echo '{"collection":"nowhere","embedding":[1,2,3,4]}' > "$T/q.ndjson"
assert_status 2 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_db" \
	--queries "$T/q.ndjson" 2> "$T/err"
grep -q 'q.ndjson:1: "nowhere" is not a target collection' "$T/err" ||
	fail "bad queries file: $(cat "$T/err")"
echo '{"version":1,"collections":{"x":{"from":"y"}},"fields":{"a":{"type":"integr"}}}' > "$T/bad.json"
assert_status 2 cdb-validate -q --old-url "$URL_db" --new-url "$URL_db" -s "$T/bad.json" 2> "$T/err"
grep -q 'bad.json' "$T/err" || fail "bad schema: $(cat "$T/err")"

# Options.
assert_status 2 cdb-validate --expected "$T/expected.ndjson"
assert_status 2 cdb-validate --new-url "$URL_db"
assert_status 2 cdb-validate --new-url "$URL_db" --expected "$T/expected.ndjson" --sample -1
assert_status 2 cdb-validate --new-url "$URL_db" --expected "$T/expected.ndjson" --max-data-loss 101
assert_status 2 cdb-validate --new-url "$URL_db" --expected "$T/expected.ndjson" \
	--warn-divergence 30 --max-divergence 20
# Operands are more expected streams (shards): one that is not there stops.
assert_status 2 cdb-validate -q --new-url "$URL_db" --expected "$T/expected.ndjson" extra-arg 2> "$T/err"
grep -q "extra-arg: No such file" "$T/err" || fail "missing shard: $(cat "$T/err")"
assert_status 2 cdb-validate --new-url "$URL_db" --old-url "$URL_db" extra-arg
cdb-validate --help | grep -q '^usage: cdb-validate' || fail "--help"

# A report that cannot be written: the verdict is not lost silently.
assert_status 2 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_db" \
	-s "$schema" --report-json "$T/no/such/dir/r.json" 2> "$T/err"
grep -q "r.json: No such file or directory" "$T/err" || fail "unwritable report: $(cat "$T/err")"
assert_status 2 cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_db" \
	-s "$schema" --report-json - > /dev/full 2> "$T/err"
assert_eq "cdb-validate: stdout: No space left on device" "$(cat "$T/err")" "full stdout"
# ... and the report on standard output is the report.
cdb-validate -q --expected "$T/expected.ndjson" --new-url "$URL_db" -s "$schema" \
	--report-json - > "$T/out.json"
assert_eq PASSED "$(jq -r .overall_status "$T/out.json")" "report on stdout"
