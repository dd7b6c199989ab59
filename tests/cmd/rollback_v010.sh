#!/bin/bash
# Snapshots written by cdb-rollback 0.1.0 (tests/fixtures/snapshot-0.1.0:
# gzip from its own Huffman-only deflate, zstd, xz, plain tar, and float
# embeddings) still verify, list and restore exactly what was taken: the
# records of source.ndjson, which the snapshots were taken from.
. "$(dirname "$0")/../lib.sh"

F=$REPO/tests/fixtures/snapshot-0.1.0
cd "$T"
# The records of a stream, one per line, sorted and without the header.
records() {
	jq -S -c 'select(.kind == "record") | {collection, id, document,
	    metadata, embedding, uri}' "$1" | sort
}
records "$F/source.ndjson" >want

start_server a
for f in snap.tar.gz snap.tar.zst snap.tar.xz snap.tar snap-float.tar.gz; do
	cdb-rollback verify "$F/$f" >out || fail "$f does not verify: $(cat out)"
	n=5
	[ "$f" != snap-float.tar.gz ] || n=3
	grep -q "ok: .* $n records, every member matches" out ||
		fail "$f: $(cat out)"
	cdb-rollback list --json "$F/$f" | jq -e '.tool == "cdb-rollback 0.1.0"' \
		>/dev/null || fail "$f: list does not show its manifest"
	cp "$F/$f" .
	cdb-rollback restore -q -f -u "$URL_a" -w work -a . "$f" 2>err ||
		fail "restore $f failed: $(cat err)"
	cdb-export -q --embeddings float -u "$URL_a" -o got.ndjson
	if [ "$f" = snap-float.tar.gz ]; then
		grep '"collection":"docs"' want >want.docs
		records got.ndjson | grep '"collection":"docs"' >got || true
		cmp -s want.docs got || fail "$f restored other records: $(diff want.docs got)"
	else
		records got.ndjson >got
		cmp -s want got || fail "$f restored other records: $(diff want got)"
	fi
	rm -rf work failed-*
done
