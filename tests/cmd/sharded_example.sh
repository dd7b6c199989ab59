#!/bin/bash
# examples/sharded-migrate.sh on small data: GNU parallel runs 3 shards
# into one target, which ends equal to the source; after a failed run
# (target down), --resume-failed reruns the shards and finishes.
. "$(dirname "$0")/../lib.sh"

command -v parallel >/dev/null || fail "GNU parallel is not installed (tests/install-deps)"
start_server a
start_server b
node "$REPO/tests/fixtures/populate.mjs" "$URL_a" >/dev/null
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" bulk 600 16 >/dev/null

"$REPO/examples/sharded-migrate.sh" --old "$URL_a" --new "$URL_b" -n 3 \
	--dir "$T/run" > "$T/out" 2> "$T/err" || fail "example failed: $(cat "$T/err")"
grep -q 'sharded-migrate: 3 shards, [0-9]* records copied' "$T/out" ||
	fail "unexpected output: $(cat "$T/out")"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_b" ||
	fail "sharded copy differs from the source"
assert_eq 4 "$(wc -l < "$T/run/joblog")" "joblog lines (header and 3 shards)"

# The target is down: every shard fails, and the script says so.
start_server c
url_c=$URL_c
stop_server c
assert_status 1 "$REPO/examples/sharded-migrate.sh" --old "$URL_a" --new "$url_c" \
	-n 2 --dir "$T/again" 2> "$T/err"
grep -q 'with --resume-failed' "$T/err" || fail "no advice: $(cat "$T/err")"
awk 'NR > 1 && $7 != 0' "$T/again/joblog" | grep -q . || fail "joblog records no failure"
start_server c
"$REPO/examples/sharded-migrate.sh" --old "$URL_a" --new "$URL_c" -n 2 \
	--dir "$T/again" --resume-failed > "$T/out" 2> "$T/err" ||
	fail "resumed run failed: $(cat "$T/err")"
node "$REPO/tests/fixtures/compare.mjs" "$URL_a" "$URL_c" ||
	fail "resumed sharded copy differs from the source"

# examples/k8s: syntax only (no cluster here): the manifest parses as YAML,
# is an Indexed Job whose completion index becomes --shard, and its shell
# script parses (sh -n).
python3 - "$REPO/examples/k8s/sharded-migrate-job.yaml" <<'PY' || fail "k8s manifest"
import sys, yaml
docs = list(yaml.safe_load_all(open(sys.argv[1])))
job = [d for d in docs if d["kind"] == "Job"][0]["spec"]
assert job["completionMode"] == "Indexed" and job["completions"] == job["parallelism"]
c = job["template"]["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
assert env["SHARDS"] == str(job["completions"])
assert 'JOB_COMPLETION_INDEX + 1' in c["args"][0] and '--shard "$k/$SHARDS"' in c["args"][0]
import subprocess
subprocess.run(["sh", "-n"], input=c["args"][0].encode(), check=True)
PY
