#!/bin/bash
# cdb-export --from-dir and --from-archive: a stopped server's data
# directory (l2, ip, cosine; typed and array metadata; odd ids; documents
# and uris; updates, upserts and deletes; a hnsw index persisted halfway
# and a log tail past it; a write just before the stop) read offline gives
# the records the server gives online, the directory untouched; a running
# server's directory is refused, or read through --copy; a tar.gz of the
# directory reads the same; cdb-rollback restore takes it, and resumes
# after a kill -9.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
node "$REPO/tests/fixtures/offline-writes.mjs" "$URL_a"
D=$T/a

# Running: refused with the reason, or read from a consistent copy.
assert_status 1 cdb-export -q --from-dir "$D" > /dev/null 2> "$T/err"
grep -q 'is open in process .*--copy' "$T/err" ||
	fail "running server not named: $(cat "$T/err")"
cdb-export -q --copy --from-dir "$D" > "$T/copy.ndjson"
cdb-export -q -u "$URL_a" > "$T/online.ndjson"
node "$REPO/tests/fixtures/samestream.mjs" "$T/online.ndjson" "$T/copy.ndjson" ||
	fail "--copy of a running server differs from the online export"
stop_server a

# The log holds writes past what the vector segments persisted.
tail=$(sqlite3 -readonly "$D/chroma.sqlite3" "SELECT count(*) FROM
	embeddings_queue q JOIN segments s ON substr(q.topic, -36) = s.collection
	JOIN max_seq_id m ON m.segment_id = s.id
	WHERE s.scope = 'VECTOR' AND q.seq_id > m.seq_id")
[ "$tail" -gt 0 ] || fail "no log tail past a persisted hnsw index"
ls "$D"/*/index_metadata.pickle > /dev/null || fail "no persisted index"

# Offline, read only: every file keeps its bytes, nothing is created.
(cd "$D" && find . -type f ! -name 'server.*' | sort | xargs sha256sum) > "$T/before"
cdb-export --from-dir "$D" -o "$T/offline.ndjson" 2> "$T/err"
grep -q 'records in 6 collections' "$T/err" || fail "summary: $(cat "$T/err")"
(cd "$D" && find . -type f ! -name 'server.*' | sort | xargs sha256sum) > "$T/after"
cmp -s "$T/before" "$T/after" || fail "the data directory changed"
head -1 "$T/offline.ndjson" | jq -e --arg d "$(cd "$D" && pwd -P)" \
	'.source == $d and (.chroma_version | startswith("1."))' > /dev/null ||
	fail "header does not name the directory and version: $(head -1 "$T/offline.ndjson")"

# The same records as the server gives once started again.
start_server a
cdb-export -q -u "$URL_a" > "$T/online2.ndjson"
stop_server a
node "$REPO/tests/fixtures/samestream.mjs" "$T/online2.ndjson" "$T/offline.ndjson" ||
	fail "offline export differs from the online export"
jq -e 'select(.kind=="trailer")' "$T/offline.ndjson" > /dev/null || fail "no trailer"

# A tar.gz backup as the runbook takes it (tar czf B /path/to/dir), and zstd.
tar czf "$T/backup.tar.gz" "$D" 2> /dev/null
cdb-export -q --from-archive "$T/backup.tar.gz" > "$T/arch.ndjson"
node "$REPO/tests/fixtures/samestream.mjs" "$T/online2.ndjson" "$T/arch.ndjson" ||
	fail "export from the tar.gz backup differs"
(cd "$T" && tar --zstd -cf backup.tar.zst a)
cdb-export -q --from-archive "$T/backup.tar.zst" tail-l2 > "$T/zst.ndjson"
assert_eq 250 "$(jq -c 'select(.kind=="record")' "$T/zst.ndjson" | wc -l)" \
	"records of tail-l2 from the .tar.zst"

# cdb-rollback restore takes the same backup as its source and verifies.
start_server b
cdb-rollback restore -q -u "$URL_b" -w "$T/work" -a "$T/arch" \
	--report-md "$T/r.md" --report-json "$T/r.json" "$T/backup.tar.gz" 2> "$T/err" ||
	fail "restore from the directory backup: $(cat "$T/err")"
cdb-export -q -u "$URL_b" > "$T/restored.ndjson"
node "$REPO/tests/fixtures/samestream.mjs" "$T/online2.ndjson" "$T/restored.ndjson" ||
	fail "the server restored from the backup differs"
jq -e '.verified == true and .status == "RESTORED"' "$T/r.json" > /dev/null ||
	fail "restore report: $(cat "$T/r.json")"
[ ! -e "$T/work/backup.cdb.tar" ] || fail "the converted backup was left behind"

# Killed while it turns the backup into a snapshot (a pause point, see
# lib/testpoint.h: the first collection is written and checkpointed, and
# nothing after), the same restore resumes there: each collection once;
# a changed backup is refused.  The archive directory is made.
mkfifo "$T/pause"
exec 9<> "$T/pause"
args=(-q -u "$URL_b" -w "$T/work2" -a "$T/arch2" --report-json "$T/r2.json"
	"$T/backup.tar.gz")
CDB_TEST_PAUSE="snapshot-member 1" CDB_TEST_PAUSE_FIFO=$T/pause \
	"$CDB_ROLLBACK" restore "${args[@]}" &
pid=$!
read -r -t 120 -u 9 line || fail "never reached pause point snapshot-member"
assert_eq "$pid snapshot-member" "$line" "pause point reached"
kill -9 "$pid"
wait "$pid" 2> /dev/null || true
[ -e "$T/work2/backup.cdb.tar.partial" ] ||
	fail "killed before the conversion had begun; the test proves nothing"
# Another backup at the same path is not mixed into it.
mtime=$(stat -c %Y "$T/backup.tar.gz")
touch -d @$((mtime + 60)) "$T/backup.tar.gz"
assert_status 1 "$CDB_ROLLBACK" restore "${args[@]}" 2> "$T/err"
grep -q 'backup.cdb.tar.partial: an interrupted snapshot' "$T/err" ||
	fail "a changed backup resumed: $(cat "$T/err")"
touch -d @"$mtime" "$T/backup.tar.gz"
"$CDB_ROLLBACK" restore "${args[@]}" 2> "$T/err" ||
	fail "resumed restore from the backup: $(cat "$T/err")"
assert_eq 6 "$(jq '[.collections[].name] | unique | length' "$T/r2.json")" \
	"collections restored"
assert_eq 6 "$(jq '.collections | length' "$T/r2.json")" \
	"collections in the report, each once"
cdb-export -q -u "$URL_b" > "$T/restored2.ndjson"
node "$REPO/tests/fixtures/samestream.mjs" "$T/online2.ndjson" "$T/restored2.ndjson" ||
	fail "the server restored from the resumed conversion differs"
