# tests/lib.sh - helpers for the command tests in tests/cmd/*.sh.
#
# A command test is a bash script that starts with
#
#     #!/bin/bash
#     . "$(dirname "$0")/../lib.sh"
#
# and is run by tests/run-cmd-tests, one process per test. Sourcing this file:
#
#   - turns on `set -euo pipefail`: any failing command fails the test, and
#     an ERR trap reports which line failed;
#   - sets REPO (repository root), TEST_NAME (script name without .sh) and
#     T, a fresh temporary directory under ${TMPDIR:-/tmp} that is removed
#     when the test exits (kept if CDB_KEEP_TMP=1, for debugging);
#   - puts the cdb programs on PATH (cdb-export, cdb-import, cdb-transform,
#     cdb-validate, cdb-rollback, cdb-demo-gen) and also names them
#     CDB_EXPORT, CDB_IMPORT, ... for tests that prefer explicit paths;
#   - installs an EXIT trap that stops every Chroma server the test started,
#     whether the test passes, fails, or is interrupted or timed out.
#
# Servers
#   start_server NAME   starts a real Chroma server whose data directory is
#                       $T/NAME and sets the variable URL_NAME to its URL, e.g.
#                       `start_server old` sets $URL_old (http://127.0.0.1:PORT).
#                       NAME must be a valid shell identifier part.
#   at_exit CMD...      runs CMD when the test exits (never replace the
#                       EXIT trap: it stops the servers)
#   stop_server NAME    stops it (the data stays in $T/NAME); a later
#                       start_server NAME restarts it on the same data, on a
#                       new port, and updates URL_NAME.
#
# Assertions (each prints "FAIL: TEST_NAME: ..." to stderr and exits 1)
#   fail MSG...
#   assert_eq EXPECTED ACTUAL [MSG]
#   assert_status WANT CMD [ARG...]     runs CMD, checks its exit status
#                       (note: bash ignores set -e inside CMD if it is a
#                       shell function, as for any command tested with ||)
#
# Chroma v2 API (default tenant and database; responses on stdout; on an HTTP
# error the status and body go to stderr and the function returns 1)
#   api URL PATH [JSON]             GET, or POST JSON when given; PATH is
#                       relative to URL/api/v2/tenants/default_tenant/
#                       databases/default_database/, unless it starts with
#                       "/", e.g. `api "$URL_old" /api/v2/heartbeat`
#   api_method METHOD URL PATH [JSON]   same, any method (PUT, DELETE, ...)
#   create_collection URL NAME [METADATA_JSON]   prints the new id
#   collection_id URL NAME                       prints the id of NAME

# shellcheck shell=bash
# The variables set here are used by the tests that source this file:
# shellcheck disable=SC2034

set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEST_NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/cdb-test-$TEST_NAME.XXXXXX")

CDB_EXPORT=$REPO/export/cdb-export
CDB_IMPORT=$REPO/import/cdb-import
CDB_TRANSFORM=$REPO/transform/cdb-transform
CDB_VALIDATE=$REPO/validate/cdb-validate
CDB_ROLLBACK=$REPO/rollback/cdb-rollback
CDB_DEMO_GEN=$REPO/examples/cdb-demo-gen
PATH=$REPO/export:$REPO/import:$REPO/transform:$REPO/validate:$REPO/rollback:$REPO/examples:$PATH
export PATH
# Servers this test starts stop when it ends, however it ends.
export CDB_SERVER_OWNER=$$
CHROMA_DB_PATH=/api/v2/tenants/default_tenant/databases/default_database

_cdb_servers=()

# ------------------------------------------------------------ reporting --

# The test's own standard error, kept aside: a failure met inside
# `assert_status ... 2>file` must still reach the test's log, not the file.
exec {_cdb_log}>&2

fail() {
	printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&"$_cdb_log"
	exit 1
}

# Report where `set -e` stopped the test. Only the top-level shell reports:
# a failure inside $(...) is reported once, at the line that used it.
_cdb_on_err() {
	local status=$1 line=$2 cmd=$3
	if [ "$BASH_SUBSHELL" -eq 0 ]; then
		printf 'FAIL: %s: line %s: exit status %s: %s\n' \
			"$TEST_NAME" "$line" "$status" "$cmd" >&"$_cdb_log"
	fi
}
set -E
trap '_cdb_on_err $? $LINENO "$BASH_COMMAND"' ERR

assert_eq() {
	local want=$1 got=$2 msg=${3:-values differ}
	if [ "$want" != "$got" ]; then
		fail "$msg: expected '$want', got '$got'"
	fi
}

assert_status() {
	local want=$1 st=0
	shift
	"$@" || st=$?
	if [ "$st" -ne "$want" ]; then
		fail "expected exit status $want, got $st: $*"
	fi
}

# -------------------------------------------------------------- servers --

# migrate_setup N DIM [OPTION...]: the runbook's scene.  An old server
# filled by tests/fixtures/validate-old.mjs (N records per collection of
# DIM dimensions), an empty new one, and MIGRATE: examples/migrate.sh
# between them with the default schema and the given options.
migrate_setup() {
	local n=$1 dim=$2
	shift 2
	start_server old
	start_server new
	node "$REPO/tests/fixtures/validate-old.mjs" "$URL_old" "$n" "$dim" >/dev/null
	MIGRATE=("$REPO/examples/migrate.sh" --old "$URL_old" --new "$URL_new"
		-s "$REPO/schemas/default.json" "$@")
}

start_server() {
	local name=$1 url
	case $name in
	'' | *[!A-Za-z0-9_]*) fail "start_server: bad server name '$name'" ;;
	esac
	# Registered before starting, so a half-started server is cleaned up too.
	_cdb_servers+=("$name")
	url=$("$REPO/tests/chroma-server" start "$T/$name") ||
		fail "start_server $name: chroma server did not start"
	printf -v "URL_$name" '%s' "$url"
}

stop_server() {
	"$REPO/tests/chroma-server" stop "$T/$1"
}

# at_exit CMD...: run CMD (through eval) when the test exits, before the
# servers are stopped; for helpers a test starts itself, like proxies.
_cdb_at_exit=()
at_exit() {
	_cdb_at_exit+=("$*")
}

# start_proxy NAME TARGET [ENV=VALUE...]: tests/fixtures/proxy.mjs in front
# of TARGET with those settings (see its header; LOG defaults to
# $T/NAME.log), stopped when the test exits; sets P_NAME to its URL.
start_proxy() {
	local name=$1 target=$2 i
	shift 2
	env LOG="$T/$name.log" "$@" node "$REPO/tests/fixtures/proxy.mjs" \
		"$target" "$T/$name.port" &
	at_exit "kill $! 2>/dev/null || true"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	[ -s "$T/$name.port" ] || fail "start_proxy $name: no port after 5 s"
	printf -v "P_$name" 'http://127.0.0.1:%s' "$(cat "$T/$name.port")"
}

_cdb_cleanup() {
	local status=$? name pids=() cmd
	trap - ERR
	set +e
	for cmd in "${_cdb_at_exit[@]}"; do
		eval "$cmd"
	done
	# Stop the servers in parallel: each stop can take up to a few seconds.
	# (Wait for these stops only, not for anything else the test left
	# running in the background.)
	for name in "${_cdb_servers[@]}"; do
		"$REPO/tests/chroma-server" stop "$T/$name" &
		pids+=($!)
	done
	[ ${#pids[@]} -eq 0 ] || wait "${pids[@]}"
	if [ "${CDB_KEEP_TMP:-0}" = 1 ]; then
		echo "$TEST_NAME: kept temporary directory $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$status"
}
trap _cdb_cleanup EXIT
# Turn signals into a normal exit so the EXIT trap runs.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ API --

api_method() {
	local method=$1 url=$2 path=$3 body code st=0
	[ "${path#/}" != "$path" ] || path=$CHROMA_DB_PATH/$path
	body=$(mktemp "$T/.api.XXXXXX")
	local args=(-sS -X "$method" -o "$body" -w '%{http_code}' --max-time 60)
	if [ $# -ge 4 ]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$4")
	fi
	if ! code=$(curl "${args[@]}" "$url$path"); then
		echo "api: $method $url$path: curl failed" >&2
		st=1
	elif [ "$code" -ge 400 ]; then
		printf 'api: %s %s%s: HTTP %s: %s\n' "$method" "$url" "$path" "$code" "$(cat "$body")" >&2
		st=1
	else
		cat "$body"
	fi
	rm -f "$body"
	return "$st"
}

api() {
	local url=$1 path=$2
	if [ $# -ge 3 ]; then
		api_method POST "$url" "$path" "$3"
	else
		api_method GET "$url" "$path"
	fi
}

# snapshot_refused URL BEFORE FILE WANT: cdb-rollback verify and restore
# (into collection "mig" on URL) both refuse FILE with a message holding
# WANT, and leave the server's collection names BEFORE, no work directory
# and no archive in the current directory.
snapshot_refused() {
	local url=$1 before=$2 file=$3 want=$4
	assert_status 1 cdb-rollback verify "$file" 2>err
	grep -qF "$want" err || fail "verify $file: expected '$want', got: $(cat err)"
	assert_status 1 cdb-rollback restore -u "$url" -C mig "$file" 2>err
	grep -qF "$want" err || fail "restore $file: expected '$want', got: $(cat err)"
	assert_eq "$before" "$(api "$url" collections | jq -r '[.[].name] | sort | join(",")')" \
		"server changed by a refused restore of $file"
	[ ! -e cdb-rollback.work ] || fail "$file: work directory written"
	ls failed-* 2>/dev/null && fail "$file: archive written"
	return 0
}

create_collection() {
	local url=$1 name=$2 meta=${3:-null}
	api "$url" collections "$(jq -cn --arg n "$name" --argjson m "$meta" \
		'{name: $n} + (if $m == null then {} else {metadata: $m} end)')" | jq -r .id
}

collection_id() {
	api "$1" "collections/$2" | jq -r .id
}
