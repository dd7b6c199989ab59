#!/bin/bash
# Writers that replace files whole (temporary file, rename) must never
# turn a device into a plain file: pointed at one, they refuse.  The test
# uses a private null device, never the machine's /dev/null.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" special 20 4
mknod "$T/null" c 1 3

if cdb-rollback snapshot -q -u "$URL_a" -o "$T/null" 2> "$T/err"; then
	fail "snapshot onto a device succeeded"
fi
grep -q 'not a regular file' "$T/err" || fail "snapshot: $(cat "$T/err")"
[ -c "$T/null" ] || fail "snapshot replaced the device"

cdb-export -q -u "$URL_a" > "$T/dump.ndjson"
start_server b
if cdb-import -q -u "$URL_b" -c "$T/null" "$T/dump.ndjson" 2> "$T/err"; then
	fail "import with a device as checkpoint succeeded"
fi
[ -c "$T/null" ] || fail "import replaced the device"
