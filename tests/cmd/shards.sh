#!/bin/bash
# cdb-export --shard K/N: the shards together hold every record once, each
# a stream of its own; their imports run concurrently into one target with
# no extra flag, each resumes alone, and shards that disagree, or a stream
# of another export, are refused clearly.
. "$(dirname "$0")/../lib.sh"

start_server a
start_server b
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" bulk 1500 32 >/dev/null

# Every record in exactly one shard; each shard has its own header, all
# collection lines and a trailer that checks.
cdb-export -q -u "$URL_a" > "$T/full.ndjson"
for k in 1 2 3; do
	cdb-export -q -u "$URL_a" -b 100 --shard "$k/3" > "$T/s$k.ndjson"
done
ids() { jq -r 'select(.kind=="record") | [.collection, .id] | @tsv' "$@" | sort; }
ids "$T/full.ndjson" > "$T/ids.full"
ids "$T/s1.ndjson" "$T/s2.ndjson" "$T/s3.ndjson" > "$T/ids.shards"
[ -s "$T/ids.full" ] || fail "empty export"
cmp -s "$T/ids.full" "$T/ids.shards" || fail "the shards do not hold every record once"
colls=$(grep -c '"kind":"collection"' "$T/full.ndjson")
names=$(head -1 "$T/s1.ndjson" | jq -r .shard.export)
for k in 1 2 3; do
	head -1 "$T/s$k.ndjson" | jq -e --arg x "$names" --argjson k "$k" \
		'.shard == {export: $x, index: $k, of: 3}' >/dev/null ||
		fail "shard $k header does not name its export and K/N"
	assert_eq "$colls" "$(grep -c '"kind":"collection"' "$T/s$k.ndjson")" \
		"collection lines in shard $k"
	n=$(grep -c '"kind":"record"' "$T/s$k.ndjson")
	[ "$n" -gt 400 ] || fail "shard $k holds only $n records: not an even split"
	tail -1 "$T/s$k.ndjson" | jq -e --argjson n "$n" '.records == $n' >/dev/null ||
		fail "shard $k trailer does not count its own records"
done

# cdb-rollback snapshot --shard: the same split, one snapshot per shard,
# each verified; together they hold every record once; restore refuses one.
for k in 1 2 3; do
	cdb-rollback snapshot -q -u "$URL_a" --shard "$k/3" -o "$T/snap$k.tar"
	cdb-rollback verify -q "$T/snap$k.tar"
	jq -e --argjson k "$k" '.shard == {index: $k, of: 3}' \
		<(tar -xOf "$T/snap$k.tar" manifest.json) >/dev/null ||
		fail "snapshot $k: manifest does not name its shard"
	mkdir "$T/snap$k"
	tar -xf "$T/snap$k.tar" -C "$T/snap$k"
done
ids "$T"/snap?/collections/*.ndjson > "$T/ids.snap"
cmp -s "$T/ids.full" "$T/ids.snap" || fail "the snapshot shards do not hold every record once"
assert_status 2 cdb-rollback restore -q -f -u "$URL_b" -w "$T/w" --report-json "$T/r.json" --report-md "$T/r.md" "$T/snap1.tar" 2> "$T/err"
grep -q 'is one shard of a snapshot' "$T/err" || fail "unexpected: $(cat "$T/err")"

# Three shard pipelines at once into one empty target.
for k in 1 2 3; do
	cdb-export -q -u "$URL_a" --shard "$k/3" |
		cdb-import -q -u "$URL_b" -b 50 -c "$T/pipe$k.ckpt" &
done
for k in 1 2 3; do
	wait -n || fail "a shard pipeline failed"
done
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "3 concurrent shards differ from the source"

# A stream of the same source that is not a shard of this export still
# needs --append; so does a shard once its collection is full.
assert_status 1 cdb-import -q -u "$URL_b" "$T/full.ndjson"
assert_status 1 cdb-import -q -u "$URL_b" "$T/s2.ndjson" 2> "$T/err"
grep -q 'records of another export are there; use --append' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"

# A shard killed half way and rerun alone, while the others are done.
start_server c
cdb-import -q -u "$URL_c" "$T/s1.ndjson"
cdb-import -q -u "$URL_c" "$T/s3.ndjson"
mkfifo "$T/fifo"
"$CDB_IMPORT" -q -u "$URL_c" -b 50 -c "$T/s2.ckpt" < "$T/fifo" &
pid=$!
exec 3> "$T/fifo"
half=$(($(wc -l < "$T/s2.ndjson") / 2))
head -n "$half" "$T/s2.ndjson" >&3
# The rest never comes: the import cannot end before the kill.
for ((i = 0; i < 600; i++)); do
	got=$(jq '[.collections[]] | add // 0' "$T/s2.ckpt" 2>/dev/null || echo 0)
	[ "${got:-0}" -ge 100 ] && break
	sleep 0.05
done
[ "${got:-0}" -ge 100 ] || fail "the killed shard never committed a batch"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
exec 3>&-
cdb-import -q -u "$URL_c" -b 50 -c "$T/s2.ckpt" "$T/s2.ndjson"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_c" ||
	fail "killed and rerun shard: target differs from the source"

# Shards that disagree on a collection's configuration fail clearly.
start_server d
cdb-import -q -u "$URL_d" "$T/s1.ndjson"
jq -c 'if .kind == "collection" and .name == "bulk"
	then .metadata = {"changed": true} else . end' "$T/s2.ndjson" |
	head -n -1 > "$T/bad.ndjson"
assert_status 1 cdb-import -q -u "$URL_d" --allow-partial "$T/bad.ndjson" 2> "$T/err"
grep -q 'collection "bulk" exists on the target with other metadata' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"
grep -q ':[0-9]*: ' "$T/err" || fail "no line number: $(cat "$T/err")"
jq -c 'if .kind == "collection" and .name == "bulk"
	then .configuration.hnsw.space = "ip" else . end' "$T/s3.ndjson" |
	head -n -1 > "$T/bad.ndjson"
assert_status 1 cdb-import -q -u "$URL_d" --allow-partial "$T/bad.ndjson" 2> "$T/err"
grep -q 'collection "bulk" exists on the target with space' "$T/err" ||
	fail "unexpected message: $(cat "$T/err")"

# --shard refuses what it cannot split.
assert_status 2 cdb-export -q -u "$URL_a" --shard 4/3
assert_status 2 cdb-export -q -u "$URL_a" --shard 1/2 --where '{"a": 1}'
