# dracd - POP-before-SMTP relay authorization daemon.  A plain GNU Makefile.
#
#   make            build everything into build/
#   make run        install missing Debian packages (as root), build, and
#                   run dracd in the foreground on port $(RUN_PORT)
#   make check      install, build and run every test
#   make install    PREFIX=/usr/local DESTDIR=

VERSION    := 0.1.0
PREFIX     ?= /usr/local
SBINDIR    ?= $(PREFIX)/sbin
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DESTDIR    ?=
CC         ?= cc
PKG_CONFIG ?= pkg-config
RPCGEN     ?= rpcgen
RUN_PORT   ?= 8901

B := build

TIRPC_CFLAGS := $(shell $(PKG_CONFIG) --cflags libtirpc 2>/dev/null)
TIRPC_LIBS   := $(shell $(PKG_CONFIG) --libs libtirpc 2>/dev/null)
CHECK_CFLAGS := $(shell $(PKG_CONFIG) --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell $(PKG_CONFIG) --libs check 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes \
            -Wstrict-prototypes -Wpointer-arith -Wformat=2
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -pthread -D_GNU_SOURCE \
             -DDRACD_VERSION='"$(VERSION)"' -I$(B)/gen -Isrc/dracd \
             -Iinclude $(TIRPC_CFLAGS)
# rpcgen's output is not ours to fix: build it without the extra warnings
GEN_CFLAGS = -std=gnu11 -Wall -Werror -Wno-unused-variable $(CFLAGS) \
             -pthread -D_GNU_SOURCE -I$(B)/gen $(TIRPC_CFLAGS)
LIBS     := $(TIRPC_LIBS) -ldb -lpthread

DAEMON_SRC := $(filter-out src/dracd/main.c,$(wildcard src/dracd/*.c))
DAEMON_OBJ := $(DAEMON_SRC:src/%.c=$(B)/obj/%.o) $(B)/gen/drac_prot_xdr.o
TEST_SRC   := $(wildcard tests/*.c)
TEST_OBJ   := $(TEST_SRC:tests/%.c=$(B)/obj/tests/%.o)

# what `make run` needs; `make check` adds the test tools
RUN_PKGS   := gcc make libc6-dev libtirpc-dev libdb5.3-dev rpcsvc-proto \
              rpcbind pkg-config db5.3-util
CHECK_PKGS := $(RUN_PKGS) check mandoc clang

.PHONY: all run check deps deps-check install uninstall clean check-build \
        lint-man

all: $(B)/dracd

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

$(B)/dracd: $(B)/obj/dracd/main.o $(B)/libdracd.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

# ---- tests ----
$(B)/obj/tests/%.o: tests/%.c $(B)/gen/drac_prot.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Itests -MMD -MP -c -o $@ $<

$(B)/check_dracd: $(TEST_OBJ) $(B)/gen/drac_prot_clnt.o $(B)/libdracd.a
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LIBS)

check-build: $(B)/dracd $(B)/check_dracd

lint-man:
	mandoc -Tlint -Wwarning man/*.[0-9]

# the whole suite; the tree must also build warning-free under clang
check: deps-check
	$(MAKE) check-build
	$(MAKE) lint-man
	$(MAKE) B=$(B)/clang CC=clang check-build >/dev/null
	DRACD=$(CURDIR)/$(B)/dracd $(B)/check_dracd

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
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(B)/dracd $(DESTDIR)$(SBINDIR)/dracd
	install -m 644 man/dracd.8 $(DESTDIR)$(MANDIR)/man8/dracd.8
	install -m 644 man/dracd.conf.5 $(DESTDIR)$(MANDIR)/man5/dracd.conf.5

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dracd $(DESTDIR)$(MANDIR)/man8/dracd.8 \
	  $(DESTDIR)$(MANDIR)/man5/dracd.conf.5

clean:
	rm -rf $(B) run

-include $(wildcard $(B)/obj/*/*.d)
