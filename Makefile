# cdb - migrate ChromaDB databases through NDJSON pipes.
# make; make check; make install [PREFIX=/usr/local] [DESTDIR=]
# make demo: examples/demo.sh, which installs what is missing first

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# The runbook (examples/migrate.sh) and the default schema.
DATADIR ?= $(PREFIX)/share/cdb
CC ?= cc
CFLAGS ?= -O2 -g
LDFLAGS ?=
PKG_CONFIG ?= pkg-config

DEBS = pkg-config libcurl4-openssl-dev libjansson-dev libarchive-dev \
	libsqlite3-dev check
PKGS = libcurl "jansson >= 2.14" libarchive sqlite3

# (clean and demo need no libraries: demo.sh installs them before building.)
ifeq ($(filter clean demo,$(MAKECMDGOALS)),)
ifneq ($(shell $(PKG_CONFIG) --exists $(PKGS) 2>/dev/null && echo ok),ok)
$(error missing build dependencies ($(PKGS)); on Debian run: apt-get install $(DEBS))
endif
endif

DEP_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
DEP_LIBS := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
	-Wall -Wextra -Ilib $(DEP_CFLAGS) $(CFLAGS)
# Each program loads only the libraries it uses (export needs no libarchive).
LIBS = -Wl,--as-needed $(DEP_LIBS) -lpthread -lm

LIB_SRC := $(sort $(wildcard lib/*.c))
LIB_OBJ := $(LIB_SRC:.c=.o)
LIB_HDR := $(wildcard lib/*.h)
# What only the programs share (options, progress, stdout): not libcdb.
CLI_SRC := $(sort $(wildcard cli/*.c))
CLI_OBJ := $(CLI_SRC:.c=.o)
CLI_HDR := $(wildcard cli/*.h)

PROGS = export/cdb-export import/cdb-import transform/cdb-transform \
	validate/cdb-validate rollback/cdb-rollback
# A program is one file (import/cdb-import.c) or, split by subcommand,
# every .c file of its directory with a main.c (rollback/).
PROG_SRC = $(or $(wildcard $(1).c),$(if $(wildcard $(dir $(1))main.c),$(sort $(wildcard $(dir $(1))*.c))))
BUILT_PROGS = $(foreach p,$(PROGS),$(if $(call PROG_SRC,$(p)),$(p)))
EXTRA_PROGS = $(if $(wildcard examples/cdb-demo-gen.c),examples/cdb-demo-gen)
MAN1 = $(wildcard man/*.1)
MAN5 = $(wildcard man/*.5)

UNIT_SRC := $(sort $(wildcard tests/unit/*.c))

all: $(BUILT_PROGS) $(EXTRA_PROGS)

lib/libcdb.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $(LIB_OBJ)

lib/%.o: lib/%.c $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

cli/libcdbcli.a: $(CLI_OBJ)
	rm -f $@
	$(AR) rcs $@ $(CLI_OBJ)

cli/%.o: cli/%.c $(CLI_HDR) $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

%: %.c cli/libcdbcli.a lib/libcdb.a $(LIB_HDR) $(CLI_HDR)
	$(CC) $(ALL_CFLAGS) -Icli -o $@ $< cli/libcdbcli.a lib/libcdb.a \
		$(LDFLAGS) $(LIBS)

# A program of several files: its directory's .c and .h files.
ROLLBACK_SRC := $(call PROG_SRC,rollback/cdb-rollback)
rollback/cdb-rollback: $(ROLLBACK_SRC) $(wildcard rollback/*.h) \
		cli/libcdbcli.a lib/libcdb.a $(LIB_HDR) $(CLI_HDR)
	$(CC) $(ALL_CFLAGS) -Icli -o $@ $(ROLLBACK_SRC) cli/libcdbcli.a \
		lib/libcdb.a $(LDFLAGS) $(LIBS)

tests/unit/check_cdb: $(UNIT_SRC) lib/libcdb.a $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) $$($(PKG_CONFIG) --cflags check) -o $@ \
		$(UNIT_SRC) lib/libcdb.a $(LDFLAGS) \
		$$($(PKG_CONFIG) --libs check) $(LIBS)

check: all tests/unit/check_cdb lint-man lint-c check-embed
	./tests/unit/check_cdb
	./tests/run-cmd-tests

# cppcheck with jansson's iteration macros defined (otherwise it skips the
# files that use them); any finding fails.  Declarations stay at the top
# of a block (style(9)), so variableScope is off.
CPPCHECK = cppcheck -q --std=c11 --enable=warning,style,performance,portability \
	--inline-suppr --library=tests/cppcheck/jansson.cfg -D__GNUC__ \
	--suppress=missingIncludeSystem --suppress=variableScope \
	--error-exitcode=1 -Ilib -Icli
lint-c:
	$(CPPCHECK) lib/*.c cli/*.c $(sort $(foreach p,$(BUILT_PROGS),$(call PROG_SRC,$(p))))

# The embedding codec against the C library (bench/embed-verify runs
# every float32 for hours): a fixed sample of the bit patterns, < 30 s.
bench/embed-verify: bench/embed-verify.c lib/libcdb.a $(LIB_HDR)
	$(CC) $(ALL_CFLAGS) -o $@ $< lib/libcdb.a $(LDFLAGS) $(LIBS)

check-embed: bench/embed-verify
	bench/embed-verify format 0 0xffffffff 8191
	bench/embed-verify parse 0 0xffffffff 65521

# The suite again under ASan/UBSan, threads under TSan, and the unit tests
# under valgrind.
check-sanitize:
	./tests/sanitize

demo:
	examples/demo.sh

check-unit: tests/unit/check_cdb
	./tests/unit/check_cdb

# mandoc's lint, and every cdb page a page refers to (.Xr) must exist.
lint-man:
	mandoc -Tlint -Wwarning $(MAN1) $(MAN5)
	@for x in $$(grep -oh 'Xr cdb-[a-z]* [0-9]' $(MAN1) $(MAN5) | sort -u | \
		sed 's/Xr \(.*\) \(.*\)/\1.\2/'); do \
		[ -e "man/$$x" ] || { echo "lint-man: man/$$x is referred to but missing"; exit 1; }; \
	done

install: all
	mkdir -p $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	for p in $(BUILT_PROGS); do install -m 755 $$p $(DESTDIR)$(BINDIR)/; done
	for m in $(MAN1); do install -m 644 $$m $(DESTDIR)$(MANDIR)/man1/; done
	for m in $(MAN5); do install -m 644 $$m $(DESTDIR)$(MANDIR)/man5/; done
	mkdir -p $(DESTDIR)$(DATADIR)/schemas
	install -m 755 examples/migrate.sh $(DESTDIR)$(DATADIR)/
	install -m 644 schemas/default.json $(DESTDIR)$(DATADIR)/schemas/

uninstall:
	for p in $(BUILT_PROGS); do rm -f $(DESTDIR)$(BINDIR)/$${p##*/}; done
	for m in $(MAN1); do rm -f $(DESTDIR)$(MANDIR)/man1/$${m##*/}; done
	for m in $(MAN5); do rm -f $(DESTDIR)$(MANDIR)/man5/$${m##*/}; done
	rm -f $(DESTDIR)$(DATADIR)/migrate.sh $(DESTDIR)$(DATADIR)/schemas/default.json

clean:
	rm -f lib/*.o lib/libcdb.a cli/*.o cli/libcdbcli.a $(PROGS) examples/cdb-demo-gen tests/unit/check_cdb bench/embed-verify

.PHONY: all check check-embed check-sanitize check-unit demo lint-man lint-c install uninstall clean
