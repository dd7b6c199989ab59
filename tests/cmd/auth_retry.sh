#!/bin/bash
# Tokens come from CHROMA_TOKEN and go out as the configured header, never
# into messages; 5xx answers are retried and 4xx are not.  The server is
# real; a small proxy (tests/fixtures/proxy.mjs) in front of it plays the
# auth gateway and the flaky network.
. "$(dirname "$0")/../lib.sh"

start_server a
node "$REPO/tests/fixtures/bulk.mjs" "$URL_a" auth-src 30 4

proxy() { # proxy NAME [ENV=VALUE...]: one in front of server a
	start_proxy "$1" "$URL_a" "${@:2}"
}

proxy bearer TOKEN=s3cr3t-t0ken
proxy xtoken TOKEN=s3cr3t-t0ken HEADER=x-chroma-token

# The right token, from the environment, as a bearer token.
CHROMA_TOKEN=s3cr3t-t0ken cdb-export -q -u "$P_bearer" > "$T/a.ndjson"
assert_eq 30 "$(jq -c 'select(.kind=="record")' "$T/a.ndjson" | wc -l)" "records through the auth proxy"
# ... and as X-Chroma-Token.
CHROMA_TOKEN=s3cr3t-t0ken cdb-export -q -u "$P_xtoken" --auth-header x-chroma-token > /dev/null

# A wrong token: the server's message, no retry, and the token not echoed.
if CHROMA_TOKEN=wr0ng-t0ken cdb-export -q -u "$P_bearer" > /dev/null 2> "$T/err"; then
	fail "export with a wrong token succeeded"
fi
grep -q 'missing or wrong token (HTTP 401)' "$T/err" || fail "401 message: $(cat "$T/err")"
grep -q 'wr0ng\|s3cr3t' "$T/err" && fail "token appears in messages"
n401=$(grep -c '^401 ' "$T/bearer.log")
assert_eq 1 "$n401" "requests made with a wrong token (a 4xx is not retried)"
# Credentials in the URL never reach the stream's header either.
CHROMA_TOKEN=s3cr3t-t0ken cdb-export -q -u "http://user:pa55word@${P_bearer#http://}" > "$T/b.ndjson"
grep -q 'pa55word' "$T/b.ndjson" && fail "URL password written into the stream"

# Three 503s in a row are retried with backoff and the copy completes.
proxy flaky FAIL_FIRST=3
cdb-export -q -u "$P_flaky" > "$T/c.ndjson"
assert_eq 3 "$(grep -c '^503 ' "$T/flaky.log")" "injected failures seen"
assert_eq 30 "$(jq -c 'select(.kind=="record")' "$T/c.ndjson" | wc -l)" "records after retries"
# A 404 from a gateway is not retried.
proxy gone FAIL_FIRST=5 FAIL_STATUS=404
if cdb-export -q -u "$P_gone" > /dev/null 2>&1; then
	fail "export through a 404 gateway succeeded"
fi
assert_eq 1 "$(grep -c '^404 ' "$T/gone.log")" "requests answered 404 (not retried)"
