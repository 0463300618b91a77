# dracd - POP-before-SMTP relay authorization daemon.  A plain GNU Makefile.
#
#   make            build everything into build/
#   make run        install missing Debian packages (as root), build, and
#                   run dracd in the foreground on port $(RUN_PORT)
#   make check      install, build and run every test
#   make check-deb  build the Debian packages, install them, run the packaged
#                   service as its unit does, purge them (root; tests/pkg)
#   make install    PREFIX=/usr/local DESTDIR= (LIBDIR= for multiarch)
#
# CFLAGS, CPPFLAGS and LDFLAGS from the environment (dpkg-buildflags) are
# honoured.  Warnings are errors in the project's own checks (make check,
# check-build and the other targets CI runs), not in a plain make, make
# install or the Debian build, so a newer compiler's new warning does not
# break an install; WERROR=-Werror or WERROR= says otherwise.

VERSION    := 0.1.0
prefix     ?= /usr/local
PREFIX     ?= $(prefix)
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/drac
DESTDIR    ?=
CC         ?= cc
PKG_CONFIG ?= pkg-config
RPCGEN     ?= rpcgen
RUN_PORT   ?= 8901

B := build
SHELL := /bin/bash

TIRPC_CFLAGS := $(shell $(PKG_CONFIG) --cflags libtirpc 2>/dev/null)
TIRPC_LIBS   := $(shell $(PKG_CONFIG) --libs libtirpc 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)
SYSTEMD_LIBS := $(shell $(PKG_CONFIG) --libs libsystemd 2>/dev/null)
# the Dovecot plugin, built when dovecot-dev is installed: its headers
# and module directory come from the dovecot-config it ships
DOVECOT_CONFIG ?= /usr/lib/dovecot/dovecot-config
DOVECOT_INCDIR ?= $(shell . $(DOVECOT_CONFIG) 2>/dev/null && \
                    echo $$dovecot_pkgincludedir)
DOVECOT_MODULEDIR_SYS := $(shell . $(DOVECOT_CONFIG) 2>/dev/null && \
                    echo $$dovecot_moduledir)
# installed into Dovecot's own module directory when PREFIX is left
# alone; under any other PREFIX (a test's, a package's) into
# $(LIBDIR)/dovecot/modules; DOVECOT_MODULEDIR= names another
DOVECOT_MODULEDIR ?= $(strip $(if $(filter /usr/local,$(PREFIX)),\
                       $(DOVECOT_MODULEDIR_SYS),$(LIBDIR)/dovecot/modules))
DOVECOT_PLUGIN = $(strip $(if $(wildcard $(DOVECOT_INCDIR)/config.h),\
                    $(B)/lib95_drac_plugin.so))
MHD_CFLAGS   := $(shell $(PKG_CONFIG) --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS     := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)

STRICT_GOALS := check check-build check-tsan check-asan check-valgrind \
                stress fuzz fuzz-build bench
ifneq ($(filter $(STRICT_GOALS),$(MAKECMDGOALS)),)
WERROR   ?= -Werror
export WERROR
endif
WARN     := -Wall -Wextra $(WERROR) -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wpointer-arith -Wformat=2
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) -pthread -D_GNU_SOURCE \
             -DDRACD_VERSION='"$(VERSION)"' -I$(B)/gen $(INC) \
             -Iinclude $(TIRPC_CFLAGS) $(MHD_CFLAGS)
# each directory sees its own headers and src/common's, nothing else:
# the daemon's headers are out of reach of the client side
INC =
$(B)/obj/common/%.o $(B)/pic/common/%.o: INC = -Isrc/common
$(B)/obj/dracd/%.o: INC = -Isrc/common -Isrc/dracd
$(B)/pic/lib/%.o: INC = -Isrc/common -Isrc/lib
$(B)/obj/logwatch/%.o: INC = -Isrc/common
# rpcgen's output is not ours to fix: build it without the extra warnings
GEN_CFLAGS = -std=gnu11 -Wall $(WERROR) -Wno-unused-variable $(CPPFLAGS) \
             $(CFLAGS) -pthread -D_GNU_SOURCE -I$(B)/gen $(TIRPC_CFLAGS)
CRYPTO_CFLAGS := $(shell $(PKG_CONFIG) --cflags libcrypto 2>/dev/null)
CRYPTO_LIBS  := $(shell $(PKG_CONFIG) --libs libcrypto 2>/dev/null || echo -lcrypto)
LIBS     := $(TIRPC_LIBS) $(MHD_LIBS) $(CRYPTO_LIBS) -ldb -lpthread

DAEMON_SRC := $(filter-out src/dracd/main.c,$(wildcard src/dracd/*.c))
DAEMON_OBJ := $(DAEMON_SRC:src/%.c=$(B)/obj/%.o)
# src/common: what the daemon and the client side share (addresses, the
# wire records, the authenticator, the clock) and the XDR routines, built
# once, position-independent with every symbol hidden, into a convenience
# library that dracd, libdrac and the tests link
COMMON_SRC := $(wildcard src/common/*.c)
COMMON_OBJ := $(COMMON_SRC:src/%.c=$(B)/pic/%.o) $(B)/pic/gen/drac_prot_xdr.o
# libdrac: its own sources, with every symbol hidden but the public API
LIB_SRC    := $(wildcard src/lib/*.c)
LIB_OBJ    := $(LIB_SRC:src/%.c=$(B)/pic/%.o)
SONAME     := libdrac.so.1
SOLIB      := libdrac.so.1.0.0
PIC_CFLAGS  = -fPIC -fvisibility=hidden
# drac-logwatch: its modules in a static library the tests link too
LW_SRC     := $(filter-out src/logwatch/logwatch.c,$(wildcard src/logwatch/*.c))
LW_OBJ     := $(LW_SRC:src/%.c=$(B)/obj/%.o)
# drac-milter: its policy module in a static library the tests link too
MILTER_SRC := $(filter-out src/milter/drac-milter.c,$(wildcard src/milter/*.c))
MILTER_OBJ := $(MILTER_SRC:src/%.c=$(B)/obj/%.o)
# the tests: tests/unit (in-process), tests/daemon (they start dracd or
# another program), tests/support (what they share), one runner
TEST_SRC   := $(wildcard tests/*.c tests/unit/*.c tests/daemon/*.c \
              tests/support/*.c)
INST       := $(CURDIR)/$(B)/inst
TEST_OBJ   := $(TEST_SRC:tests/%.c=$(B)/obj/tests/%.o)

# what `make run` needs; `make check` adds the test tools
RUN_PKGS   := gcc make libc6-dev libtirpc-dev libdb5.3-dev libssl-dev rpcsvc-proto \
              rpcbind pkg-config db5.3-util libsystemd-dev libmicrohttpd-dev \
              libmilter-dev
CHECK_PKGS := $(RUN_PKGS) check mandoc clang valgrind systemd-journal-remote \
              dovecot-dev dovecot-imapd prometheus miltertest

.PHONY: all run check deps deps-check install uninstall clean check-build \
        lint-man check-tsan check-asan check-valgrind bench fuzz fuzz-build \
        stress check-deb

all: $(B)/dracd $(B)/drac-cli $(B)/drac-logwatch $(B)/drac-milter \
     $(B)/libdrac.a $(B)/$(SOLIB) $(DOVECOT_PLUGIN)

# ---- dependencies: install what is missing when root, else say what ----
deps deps-check: PKGS = $(if $(filter deps-check,$@),$(CHECK_PKGS),$(RUN_PKGS))
deps deps-check:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || \
	    missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq $$missing >/dev/null || exit 1; \
	  else \
	    echo "missing Debian packages; run as root:"; \
	    echo "  apt-get install$$missing"; exit 1; \
	  fi; \
	fi

# ---- Sendmail and Exim for the tests: unpacked, never installed ----
# Their packages conflict with postfix as installed packages, not as
# files: `make mta-tools` downloads them and unpacks them under
# $(MTA_DIR) (tests/daemon/check_mta_others.c runs them from there).  The
# libraries they link are ordinary packages, installed by deps-check;
# Exim refuses to run without its compiled-in user Debian-exim.  The
# tests run them as root: no set-ID bits are kept (a set-user-ID root
# Exim has no business in a build tree).
MTA_DIR  := build/mta
MTA_DEBS := sendmail-bin sendmail-cf exim4-daemon-heavy exim4-base
MTA_BINS := usr/libexec/sendmail/sendmail usr/sbin/exim4
MTA_PKGS := m4 iproute2 libdb5.3 libldap-2.5-0 libnsl2 libsasl2-2 libssl3 libwrap0 \
            libcrypt1 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 \
            libmariadb3 libpam0g libpcre2-8-0 libperl5.36 libpq5 libspf2-2 \
            libsqlite3-0
CHECK_PKGS += $(MTA_PKGS)

.PHONY: mta-tools
mta-tools: deps-check $(MTA_DIR)/.unpacked
	@find $(MTA_DIR) -type f -perm /6000 -exec chmod ug-s {} +
	@getent passwd Debian-exim >/dev/null || \
	if [ "$$(id -u)" = 0 ]; then \
	  useradd --system --user-group --no-create-home \
	    --home-dir /nonexistent --shell /usr/sbin/nologin Debian-exim; \
	else echo "Exim needs its user; run as root:"; \
	  echo "  useradd --system --user-group Debian-exim"; exit 1; fi

$(MTA_DIR)/.unpacked: | deps-check
	rm -rf $(MTA_DIR) $(MTA_DIR).dl
	mkdir -p $(MTA_DIR) $(MTA_DIR).dl
	cd $(MTA_DIR).dl && apt-get download $(MTA_DEBS) 2>&1 | grep -v '^W: Download is performed unsandboxed'; \
	  test $${PIPESTATUS[0]} -eq 0
	for f in $(MTA_DIR).dl/*.deb; do dpkg-deb -x $$f $(MTA_DIR) || exit 1; done
	chmod 755 $(MTA_DIR)
	for b in $(MTA_BINS); do ! ldd $(MTA_DIR)/$$b | grep 'not found' || exit 1; done
	rm -rf $(MTA_DIR).dl
	touch $@

check check-asan check-tsan check-valgrind: mta-tools

# ---- generated RPC code ----
$(B)/gen/drac_prot.x: rpc/drac.x
	@mkdir -p $(@D)
	cp $< $@

$(B)/gen/drac_prot.h: $(B)/gen/drac_prot.x
	cd $(B)/gen && rm -f drac_prot.h && $(RPCGEN) -M -h -o drac_prot.h drac_prot.x

$(B)/gen/drac_prot_xdr.c: $(B)/gen/drac_prot.x $(B)/gen/drac_prot.h
	cd $(B)/gen && rm -f drac_prot_xdr.c && $(RPCGEN) -M -c -o drac_prot_xdr.c drac_prot.x

$(B)/gen/drac_prot_clnt.c: $(B)/gen/drac_prot.x $(B)/gen/drac_prot.h
	cd $(B)/gen && rm -f drac_prot_clnt.c && $(RPCGEN) -M -l -o drac_prot_clnt.c drac_prot.x

$(B)/gen/%.o: $(B)/gen/%.c
	$(CC) $(GEN_CFLAGS) -c -o $@ $<

# ---- the daemon ----
$(B)/obj/%.o: src/%.c $(B)/gen/drac_prot.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libdracd.a: $(DAEMON_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/dracd: $(B)/obj/dracd/main.o $(B)/libdracd.a $(B)/libdraccommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- the shared code ----
$(B)/libdraccommon.a: $(COMMON_OBJ)
	rm -f $@
	ar rcs $@ $^

# ---- libdrac and drac-cli ----
$(B)/pic/gen/%.o: $(B)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(GEN_CFLAGS) $(PIC_CFLAGS) -c -o $@ $<

$(B)/pic/%.o: src/%.c $(B)/gen/drac_prot.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PIC_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/$(SOLIB): $(LIB_OBJ) $(B)/libdraccommon.a src/lib/libdrac.map
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -shared -Wl,-soname,$(SONAME) \
	  -Wl,--version-script=src/lib/libdrac.map -o $@ $(LIB_OBJ) \
	  $(B)/libdraccommon.a $(TIRPC_LIBS) $(CRYPTO_LIBS) -lpthread
	ln -sf $(SOLIB) $(B)/$(SONAME)
	ln -sf $(SONAME) $(B)/libdrac.so

# one relocatable object (libdrac's objects and the shared ones they use)
# whose hidden symbols are made local, so that a program linking libdrac.a
# statically sees the public API and no more (and may have its own
# addr_parse); it links -lcrypto as well (drac.pc's Libs.private)
$(B)/libdrac.a: $(LIB_OBJ) $(B)/libdraccommon.a
	ld -r -o $(B)/libdrac-all.o $(LIB_OBJ) $(B)/libdraccommon.a
	objcopy --localize-hidden $(B)/libdrac-all.o
	rm -f $@
	ar rcs $@ $(B)/libdrac-all.o

$(B)/drac-cli: $(B)/obj/cli/drac-cli.o $(B)/libdrac.a $(B)/libdraccommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(TIRPC_LIBS) $(CRYPTO_LIBS) \
	  -lpthread

# ---- drac-logwatch ----
$(B)/liblogwatch.a: $(LW_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/drac-logwatch: $(B)/obj/logwatch/logwatch.o $(B)/liblogwatch.a \
    $(B)/libdrac.a $(B)/libdraccommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(TIRPC_LIBS) $(SYSTEMD_LIBS) \
	  $(CRYPTO_LIBS) -lpthread

# ---- the Dovecot plugin: libdrac linked in, so the module needs no
# libdrac.so beside it; Dovecot's config.h comes first, as it requires ----
PLUGIN_CFLAGS = -std=gnu11 $(WARN) $(CPPFLAGS) $(CFLAGS) -fPIC -D_GNU_SOURCE \
  -include $(DOVECOT_INCDIR)/config.h -I$(DOVECOT_INCDIR) -Iinclude

$(B)/pic/dovecot/drac-plugin.o: src/dovecot/drac-plugin.c include/drac.h
	@mkdir -p $(@D)
	$(CC) $(PLUGIN_CFLAGS) -MMD -MP -c -o $@ $<

# (libdrac's API stays inside: Dovecot loads modules RTLD_GLOBAL)
$(B)/lib95_drac_plugin.so: $(B)/pic/dovecot/drac-plugin.o $(B)/libdrac.a \
    $(B)/libdraccommon.a
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,--exclude-libs,ALL -o $@ $^ \
	  $(TIRPC_LIBS) $(CRYPTO_LIBS) -lpthread

# ---- drac-milter ----
$(B)/libdracmilter.a: $(MILTER_OBJ)
	rm -f $@
	ar rcs $@ $^

$(B)/drac-milter: $(B)/obj/milter/drac-milter.o $(B)/libdracmilter.a \
    $(B)/libdrac.a $(B)/libdraccommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ -lmilter $(TIRPC_LIBS) \
	  $(CRYPTO_LIBS) -lpthread

# ---- tests ----
$(B)/obj/tests/%.o: tests/%.c $(B)/gen/drac_prot.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -Itests/support -Isrc/common \
	  -Isrc/dracd -Isrc -MMD -MP -c -o $@ $<

$(B)/check_dracd: $(TEST_OBJ) $(B)/gen/drac_prot_clnt.o $(B)/libdracd.a \
    $(B)/liblogwatch.a $(B)/libdracmilter.a $(B)/libdrac.a \
    $(B)/libdraccommon.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS) \
	  $(SYSTEMD_LIBS)

check-build: all $(B)/check_dracd

lint-man:
	mandoc -Tlint -Wwarning man/*.[0-9]

# the whole suite; the tree must also build warning-free under clang
check: deps-check
	$(MAKE) check-build
	$(MAKE) lint-man
	$(MAKE) B=$(B)/clang CC=clang check-build >/dev/null
	$(MAKE) $(B)/oldpatch
	DRACD=$(CURDIR)/$(B)/dracd DRAC_CLI=$(CURDIR)/$(B)/drac-cli \
	  DRAC_LOGWATCH=$(CURDIR)/$(B)/drac-logwatch \
	  DRAC_MILTER=$(CURDIR)/$(B)/drac-milter OLDPATCH=$(CURDIR)/$(B)/oldpatch \
	  DRAC_PLUGIN=$(CURDIR)/$(B)/lib95_drac_plugin.so $(B)/check_dracd

# the whole suite again, daemon and tests built with a sanitizer
# a sanitizer slows dracd several times over: each test's own time limit
# (tcase_set_timeout) is tripled, its deadlines inside stay as they are
SAN_RUN = CK_TIMEOUT_MULTIPLIER=3 DRACD=$(CURDIR)/$(SB)/dracd DRAC_CLI=$(CURDIR)/$(SB)/drac-cli \
  DRAC_LOGWATCH=$(CURDIR)/$(SB)/drac-logwatch \
  DRAC_MILTER=$(CURDIR)/$(SB)/drac-milter \
  OLDPATCH=$(CURDIR)/$(B)/oldpatch $(SAN_PLUGIN) $(SB)/check_dracd
# Dovecot loads the plugin: an uninstrumented Dovecot cannot load an
# instrumented module, so the sanitizer runs test the plain build's
SAN_PLUGIN = DRAC_PLUGIN=$(CURDIR)/$(B)/lib95_drac_plugin.so

check-tsan: SB = $(B)/tsan
check-tsan: deps-check $(B)/oldpatch
	$(MAKE) B=$(SB) CC=clang CFLAGS="-O1 -g -fsanitize=thread" \
	  LDFLAGS=-fsanitize=thread check-build >/dev/null
	TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp" $(SAN_RUN)

check-asan: SB = $(B)/asan
check-asan: deps-check $(B)/oldpatch
	$(MAKE) B=$(SB) CC=clang \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	  LDFLAGS="-fsanitize=address,undefined" check-build >/dev/null
	ASAN_OPTIONS=detect_leaks=1 $(SAN_RUN)

# the SIGKILL test (daemon suite, case crash) with 50 kills instead of
# make check's 4
stress: check-build
	STRESS_KILLS=50 DRACD=$(CURDIR)/$(B)/dracd CK_RUN_SUITE=daemon \
	  CK_RUN_CASE=crash CK_TIMEOUT_MULTIPLIER=10 $(B)/check_dracd

# the Debian packages built from a copy of the tree, checked by lintian,
# installed, run as the unit runs dracd, restarted and purged (root)
check-deb:
	tests/pkg/deb-test.sh

# ---- fuzzing: libFuzzer over every parser of outside input ----
FUZZ_TARGETS := acl config addr lookup rpc journal
FUZZ_SECONDS ?= 60
FB := $(B)/fuzz
FUZZ_SAN := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

fuzz-build: deps-check
	$(MAKE) B=$(FB) CC=clang \
	  CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	  $(FB)/libdracd.a $(FB)/libdraccommon.a >/dev/null
	for t in $(FUZZ_TARGETS); do \
	  clang -std=gnu11 $(WARN) -O1 -g $(FUZZ_SAN) -D_GNU_SOURCE \
	    -I$(FB)/gen -Isrc/common -Isrc/dracd $(TIRPC_CFLAGS) \
	    -o $(FB)/fuzz_$$t tests/fuzz/fuzz_$$t.c $(FB)/libdracd.a \
	    $(FB)/libdraccommon.a $(LIBS) || exit 1; done

# each target for FUZZ_SECONDS from the seeds in tests/fuzz/seeds (new
# inputs go to build/fuzz/corpus); a crash stops with its input saved
fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do mkdir -p $(FB)/corpus/$$t; \
	  $(FB)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FB)/crash-$$t- $(FB)/corpus/$$t \
	    tests/fuzz/seeds/$$t 2>&1 | grep -E 'stat::number_of_executed_units|DONE|ERROR|SUMMARY' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

# ---- benchmarks: numbers, never pass/fail ----
$(B)/loadgen: tests/bench/loadgen.c tests/bench/client.c tests/bench/client.h
	$(CC) -std=gnu11 $(WARN) -O2 -pthread -o $@ $(filter %.c,$^)

$(B)/grouplag: tests/bench/grouplag.c tests/bench/client.c tests/bench/client.h
	$(CC) -std=gnu11 $(WARN) -O2 -pthread -o $@ $(filter %.c,$^)

bench: deps all $(B)/loadgen $(B)/grouplag
	B=$(B) tests/bench/run.sh

# valgrind: the unit suites in-process, libdrac against a fake hostile
# server in-process, then everything with dracd under valgrind
# (tests/valgrind-dracd); any error or definite leak fails
VALGRIND = valgrind -q --error-exitcode=99 --leak-check=full \
  --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp

check-valgrind: deps-check check-build $(B)/oldpatch
	for s in addr acl config store; do \
	  CK_FORK=no CK_RUN_SUITE=$$s $(VALGRIND) $(B)/check_dracd || exit 1; done
	CK_FORK=no CK_RUN_SUITE=libdrac CK_RUN_CASE=hostile_server \
	  $(VALGRIND) $(B)/check_dracd
	DRACD_UNDER_VALGRIND=1 DRACD_BIN=$(CURDIR)/$(B)/dracd \
	  DRACD=$(CURDIR)/tests/valgrind-dracd DRAC_CLI=$(CURDIR)/$(B)/drac-cli \
	  DRAC_LOGWATCH=$(CURDIR)/$(B)/drac-logwatch \
	  DRAC_MILTER=$(CURDIR)/$(B)/drac-milter \
	  OLDPATCH=$(CURDIR)/$(B)/oldpatch CK_TIMEOUT_MULTIPLIER=5 \
	  $(SAN_PLUGIN) \
	  $(B)/check_dracd

# an old DRAC patch, built the old way against an installed copy
$(B)/oldpatch: tests/compat/oldpatch.c all
	rm -rf $(INST)
	$(MAKE) install PREFIX=$(INST) >/dev/null
	$(CC) -o $@ $< $$(PKG_CONFIG_PATH=$(INST)/lib/pkgconfig \
	  $(PKG_CONFIG) --cflags --libs drac) -Wl,-rpath,$(INST)/lib

# ---- run it here ----
run: deps
	$(MAKE) all run/dracd.conf run/dracd.allow
	@echo "dracd: state in ./run, port $(RUN_PORT) (UDP and TCP); Ctrl-C stops it"
	$(B)/dracd -f -c run/dracd.conf -p $(RUN_PORT) run/dracd.db

run/dracd.conf:
	@mkdir -p run
	printf '# made by make run; see man/dracd.conf.5\nallow_file = run/dracd.allow\n' > $@

run/dracd.allow:
	@mkdir -p run
	printf '# made by make run: this host may add, check and administer\n127.0.0.0/8 add check admin\n::1 add check admin\n' > $@

# ---- install ----
MANPAGES := man/dracd.8 man/dracd.conf.5 man/drac-cli.1 man/libdrac.3 \
            man/dracauth.3 man/drac-logwatch.8 man/drac-dovecot.7 \
            man/drac-milter.8
# for hand installs: the sample config and allow file to copy to
# /etc/drac, the units (with this SBINDIR) to copy to /etc/systemd/system
SHARE_FILES := contrib/dracd.conf contrib/dracd.allow
UNITS      := contrib/systemd/dracd.service contrib/systemd/drac-logwatch.service \
              contrib/systemd/drac-milter.service

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(B)/dracd $(DESTDIR)$(SBINDIR)/dracd
	install -m 755 $(B)/drac-cli $(DESTDIR)$(BINDIR)/drac-cli
	install -m 755 $(B)/drac-logwatch $(DESTDIR)$(SBINDIR)/drac-logwatch
	install -m 755 $(B)/drac-milter $(DESTDIR)$(SBINDIR)/drac-milter
	install -m 644 $(B)/libdrac.a $(DESTDIR)$(LIBDIR)/libdrac.a
	install -m 755 $(B)/$(SOLIB) $(DESTDIR)$(LIBDIR)/$(SOLIB)
	ln -sf $(SOLIB) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libdrac.so
	install -m 644 include/drac.h $(DESTDIR)$(INCLUDEDIR)/drac.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	  -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  src/lib/drac.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/drac.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/drac.pc
	for m in $(MANPAGES); do s=$${m##*.}; \
	  install -d $(DESTDIR)$(MANDIR)/man$$s; \
	  install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	$(if $(DOVECOT_PLUGIN),install -d $(DESTDIR)$(DOVECOT_MODULEDIR) && \
	  install -m 644 $(DOVECOT_PLUGIN) $(DESTDIR)$(DOVECOT_MODULEDIR)/)
	install -d $(DESTDIR)$(DATADIR)
	install -m 644 $(SHARE_FILES) $(DESTDIR)$(DATADIR)/
	for u in $(UNITS); do \
	  sed -e 's|/usr/local/sbin/|$(SBINDIR)/|g' $$u \
	    > $(DESTDIR)$(DATADIR)/$${u##*/}; \
	  chmod 644 $(DESTDIR)$(DATADIR)/$${u##*/}; done

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dracd $(DESTDIR)$(BINDIR)/drac-cli \
	  $(DESTDIR)$(SBINDIR)/drac-logwatch $(DESTDIR)$(SBINDIR)/drac-milter \
	  $(DESTDIR)$(LIBDIR)/libdrac.a $(DESTDIR)$(LIBDIR)/$(SOLIB) \
	  $(DESTDIR)$(LIBDIR)/$(SONAME) $(DESTDIR)$(LIBDIR)/libdrac.so \
	  $(DESTDIR)$(INCLUDEDIR)/drac.h $(DESTDIR)$(PKGCONFIGDIR)/drac.pc
	for m in $(MANPAGES); do s=$${m##*.}; \
	  rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -f $(DESTDIR)$(DOVECOT_MODULEDIR)/lib95_drac_plugin.so
	for f in $(SHARE_FILES) $(UNITS); do \
	  rm -f $(DESTDIR)$(DATADIR)/$${f##*/}; done
	-rmdir $(DESTDIR)$(DATADIR)

clean:
	rm -rf $(B) run

-include $(wildcard $(B)/obj/*/*.d $(B)/obj/tests/*/*.d $(B)/pic/*/*.d)
