#!/bin/bash
# -h and --version are ordinary options of every program (cdb-rollback:
# before its command), and each usage ends with the SYNOPSIS line
# "cdb-xxx -h | --version" of its man page.  No server needed.
. "$(dirname "$0")/../lib.sh"

for p in export transform import validate rollback; do
	assert_eq "cdb-$p 0.1.0" "$(cdb-$p --version)" "cdb-$p --version"
	cdb-$p -h >"$T/u" || fail "cdb-$p -h: exit status $?"
	assert_eq "       cdb-$p -h | --version" "$(tail -1 "$T/u")" "cdb-$p usage"
	grep -qx '\.Fl h | Fl -version' "$REPO/man/cdb-$p.1" || fail "cdb-$p.1: no -h | --version line"
done
# Among other options, --version still only prints the version.
assert_eq "cdb-export 0.1.0" "$(cdb-export -q --version)" "cdb-export -q --version"
assert_eq "cdb-import 0.1.0" "$(cdb-import -q --version)" "cdb-import -q --version"
assert_eq "cdb-transform 0.1.0" "$(cdb-transform -n --version)" "cdb-transform -n --version"
assert_eq "cdb-validate 0.1.0" "$(cdb-validate -q --version)" "cdb-validate -q --version"
# cdb-rollback's options come before the command; the command parses its own.
assert_status 2 cdb-rollback -q verify x.tar.gz 2>/dev/null
assert_status 2 cdb-rollback 2>/dev/null
