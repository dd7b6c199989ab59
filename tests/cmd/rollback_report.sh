#!/bin/bash
# The validation report decides: rollback_triggered false does nothing
# and says so, unless --force; true proceeds and quotes the reason.  A
# dry run changes nothing.  Collections the migration did not create are
# left alone.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" docs 300 8
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" faq 40 8 cosine
cd "$T"
cdb-rollback snapshot -q -u "$URL_a" -o before.tar.gz

# After the snapshot: the migration adds mig-new and changes docs;
# someone else adds other.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig-new 25 4
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" other 10 4
id=$(collection_id "$URL_a" docs)
api "$URL_a" "collections/$id/delete" '{"ids":["docs-0000001","docs-0000002"]}' >/dev/null

state() {
	local c
	for c in $(api "$URL_a" collections | jq -r '.[].name' | sort); do
		printf '%s:%s ' "$c" "$(api "$URL_a" "collections/$(collection_id "$URL_a" "$c")/count")"
	done
}
wrecked=$(state)
assert_eq 'docs:298 faq:40 mig-new:25 other:10 ' "$wrecked" "state after the migration"

# rollback_triggered false: nothing happens, and it says so.
echo '{"overall_status":"PASSED","rollback_triggered":false,"rollback_reason":null,"extra":{"x":1}}' >passed.json
cdb-rollback restore -u "$URL_a" -r passed.json -C mig-new before.tar.gz 2>err ||
	fail "a no-op restore failed: $(cat err)"
grep -q 'rollback_triggered is false (overall status PASSED): nothing to do' err ||
	fail "not said: $(cat err)"
assert_eq "$wrecked" "$(state)" "the database changed"
ls failed-* rollback_report.* cdb-rollback.work 2>/dev/null && fail "files written"

# A report that is not one: refused, nothing touched.
echo '{"overall_status":"FAILED"}' >bad.json
assert_status 1 cdb-rollback restore -u "$URL_a" -r bad.json before.tar.gz 2>err
grep -q 'bad.json: no boolean "rollback_triggered"' err || fail "bad report: $(cat err)"
assert_eq "$wrecked" "$(state)" "the database changed"

# A dry run prints the plan and changes nothing.
echo '{"overall_status":"FAILED","rollback_triggered":true,"rollback_reason":"Data Loss Detected","collections":["mig-new"]}' >failed.json
cdb-rollback restore -n -u "$URL_a" -r failed.json before.tar.gz >plan 2>err
grep -Eq '^  restore docs +now 298, snapshot 300 records' plan || fail "plan: $(cat plan)"
grep -Eq '^  remove  mig-new +now 25' plan || fail "plan: $(cat plan)"
grep -Eq '^  keep    other ' plan || fail "plan: $(cat plan)"
assert_eq "$wrecked" "$(state)" "the dry run changed the database"
ls failed-* rollback_report.* cdb-rollback.work 2>/dev/null && fail "dry run wrote files"

# rollback_triggered true: proceeds, quotes the reason, leaves other.
cdb-rollback restore -u "$URL_a" -r failed.json before.tar.gz 2>err ||
	fail "restore failed: $(cat err)"
grep -q 'rollback triggered: "Data Loss Detected"' err || fail "reason not quoted: $(cat err)"
assert_eq 'docs:300 faq:40 other:10 ' "$(state)" "state after the rollback"
jq -e '.validation.rollback_reason == "Data Loss Detected" and .forced == false and .left_alone == ["other"]' \
	rollback_report.json >/dev/null || fail "report: $(jq -c . rollback_report.json)"
grep -q 'reason: Data Loss Detected' rollback_report.md || fail "markdown lacks the reason"

# --force restores even when the report says it is not needed.
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" mig-two 5 4
cdb-rollback restore -q -f -u "$URL_a" -r passed.json -C mig-two \
	--report-json forced.json --report-md forced.md before.tar.gz
assert_eq 'docs:300 faq:40 other:10 ' "$(state)" "state after the forced rollback"
jq -e '.forced == true and .status == "RESTORED"' forced.json >/dev/null ||
	fail "forced report: $(jq -c . forced.json)"

# No server, no default: restore needs -u or CHROMA_URL.
assert_status 2 env -u CHROMA_URL cdb-rollback restore before.tar.gz 2>/dev/null
