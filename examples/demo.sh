#!/bin/bash
# examples/demo.sh - the built-in demo: two local Chroma servers, 9,832
# demo chunks in the old one, a lossless copy to the new one through
# cdb-export | cdb-import with a checkpoint, and an independent check that
# both servers now hold the same data.  Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
DEMO=${CDB_DEMO_DIR:-$REPO/demo-out}

tests/install-deps
make -s
rm -rf "$DEMO"
mkdir -p "$DEMO"
PATH=$REPO/export:$REPO/import:$PATH

stop() {
	tests/chroma-server stop "$DEMO/old-server" || true
	tests/chroma-server stop "$DEMO/new-server" || true
}
trap stop EXIT

echo "==> starting two local Chroma servers"
OLD=$(tests/chroma-server start "$DEMO/old-server")
NEW=$(tests/chroma-server start "$DEMO/new-server")
echo "  old: $OLD"
echo "  new: $NEW"

echo "==> generating the demo data in the old server"
node examples/gen-demo.mjs "$OLD"

echo "==> cdb-export -u $OLD | tee old.ndjson | cdb-import -u $NEW -c import.ckpt"
start=$(date +%s.%N)
cdb-export -u "$OLD" | tee "$DEMO/old.ndjson" |
	cdb-import -u "$NEW" -c "$DEMO/import.ckpt"
end=$(date +%s.%N)
printf '  copied in %.1f s\n' "$(echo "$end - $start" | bc 2>/dev/null || echo 0)"

echo "==> what the stream holds (jq)"
jq -r 'select(.kind=="record") | .collection' "$DEMO/old.ndjson" | sort | uniq -c
jq -c 'select(.kind=="trailer")' "$DEMO/old.ndjson"

echo "==> independent check: every collection, record, type and bit"
node tests/fixtures/compare.mjs "$OLD" "$NEW"

echo
echo "Demo done. The saved stream is $DEMO/old.ndjson; rerun a stage from it:"
echo "  cdb-import -u URL < $DEMO/old.ndjson"
