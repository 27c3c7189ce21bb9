# hailong: build, demo, test, bench. Plain make, out-of-tree build/.
.DEFAULT_GOAL := all
SHELL := /bin/bash

BUILD   ?= build
CC      ?= cc
PKGS    := libevent libevent_pthreads libsmpp34 hiredis sqlite3 yaml-0.1 jansson libutf8proc libsodium libsystemd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) cmocka 2>/dev/null | sed 's/-I/-isystem /g')
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
           -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Werror \
           -MMD -MP -Iengine -Igateway -Isim $(PKG_CFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

ifeq ($(SANITIZE),1)
  BUILD  := build-san
  CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
  LDFLAGS += -fsanitize=address,undefined
endif

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

ENGINE_SRC  := $(wildcard engine/*.c)
# gateway/ files shared with sim/ and the CLI (everything but the mains)
GW_MAINS    := gateway/hailongd.c gateway/hailong.c
GW_SRC      := $(filter-out $(GW_MAINS),$(wildcard gateway/*.c))
SIM_SRC     := $(filter-out sim/main.c,$(wildcard sim/*.c))
TEST_SRC    := $(wildcard tests/test_*.c)

ENGINE_OBJ  := $(ENGINE_SRC:%.c=$(OBJ)/%.o)
GW_OBJ      := $(GW_SRC:%.c=$(OBJ)/%.o)
SIM_OBJ     := $(SIM_SRC:%.c=$(OBJ)/%.o)
TEST_BINS   := $(TEST_SRC:tests/%.c=$(BIN)/tests/%)

LIBENGINE   := $(BUILD)/libengine.a
LIBGW       := $(BUILD)/libgateway.a
LIBSIM      := $(BUILD)/libsim.a

.PHONY: all deps demo test test-unit test-e2e bench chaos fuzz fuzz-build clean format compdb install
all: $(BIN)/hailongd $(BIN)/hailong $(BIN)/hailong-sim $(TEST_BINS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBENGINE): $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBGW): $(GW_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^
$(LIBSIM): $(SIM_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^ $(if $(SIM_OBJ),,)

$(BIN)/hailongd: $(OBJ)/gateway/hailongd.o $(LIBGW) $(LIBENGINE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/hailong: $(OBJ)/gateway/hailong.o $(LIBGW) $(LIBENGINE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/hailong-sim: $(OBJ)/sim/main.o $(LIBSIM) $(LIBGW) $(LIBENGINE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BIN)/tests/%: $(OBJ)/tests/%.o $(LIBSIM) $(LIBGW) $(LIBENGINE)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# Installs the Debian packages that are missing (needs root, as the README says).
deps:
	@scripts/deps.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

test: deps
	@$(MAKE) -j$$(nproc) --no-print-directory all
	@scripts/run-tests.sh

bench: deps
	@$(MAKE) -j$$(nproc) --no-print-directory all
	@scripts/bench.sh

# libFuzzer targets (clang): tests/fuzz/fuzz_*.c with the code they drive,
# built with ASan+UBSan. `make fuzz` runs each for FUZZ_SECONDS (default 300);
# make test runs each for a few seconds.
FUZZ_DIR     := build-fuzz
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRC:tests/fuzz/%.c=$(FUZZ_DIR)/%)
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
                -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wno-unused-command-line-argument \
                -Iengine -Igateway $(PKG_CFLAGS)
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(ENGINE_SRC) gateway/smpp_pdu.c gateway/record.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

fuzz-build: $(FUZZ_BINS)

# chaos under load for longer (tests/e2e/test_chaos_e2e.py: Redis frozen
# past the reply deadline and restarted, seeded); make test runs 9 s of it
chaos: deps
	@$(MAKE) -j$$(nproc) --no-print-directory all
	@for s in 1 2 3; do CHAOS_SEED=$$s CHAOS_SECONDS=$${CHAOS_SECONDS:-90} CHAOS_CITIZENS=$${CHAOS_CITIZENS:-300} \
	  tests/e2e/test_chaos_e2e.py || exit 1; done
	@for s in 1 2 3; do CHAOS_EVENTS=freeze,kill,redis_restart CHAOS_SEED=$$s CHAOS_SECONDS=$${CHAOS_SECONDS:-90} \
	  CHAOS_CITIZENS=$${CHAOS_CITIZENS:-200} tests/e2e/test_chaos_e2e.py || exit 1; done

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-300} scripts/fuzz.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: binaries, the example config
# and default campaign in SYSCONFDIR/hailong (never over an existing one), the
# systemd unit, the system user (sysusers.d) and the docs (docs/operations.md).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SYSCONFDIR  ?= /etc
STATEDIR    ?= /var/lib/hailong
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(SYSCONFDIR)/sysusers.d
DOCDIR      ?= $(PREFIX)/share/doc/hailong
INSTALL_SED := -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
               -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g'

install: all
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(DOCDIR)
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/hailong $(DESTDIR)$(SYSCONFDIR)/hailong/campaigns
	install -m 0755 $(BIN)/hailongd $(BIN)/hailong $(BIN)/hailong-sim $(DESTDIR)$(BINDIR)/
	sed $(INSTALL_SED) config/systemd/hailongd.service.in >$(DESTDIR)$(UNITDIR)/hailongd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hailongd.service
	install -m 0644 config/systemd/hailong.sysusers $(DESTDIR)$(SYSUSERSDIR)/hailong.conf
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/hailong/hailongd.yaml ]; then \
	  echo "install: $(SYSCONFDIR)/hailong/hailongd.yaml exists, kept (the example is hailongd.yaml.example)"; \
	  sed -e 's|sqlite: var/hailong.db|sqlite: $(STATEDIR)/hailong.db|' \
	      -e 's|campaigns: config/campaigns|campaigns: $(SYSCONFDIR)/hailong/campaigns|' \
	      config/hailongd.yaml >$(DESTDIR)$(SYSCONFDIR)/hailong/hailongd.yaml.example; \
	else \
	  sed -e 's|sqlite: var/hailong.db|sqlite: $(STATEDIR)/hailong.db|' \
	      -e 's|campaigns: config/campaigns|campaigns: $(SYSCONFDIR)/hailong/campaigns|' \
	      config/hailongd.yaml >$(DESTDIR)$(SYSCONFDIR)/hailong/hailongd.yaml; \
	  chmod 0640 $(DESTDIR)$(SYSCONFDIR)/hailong/hailongd.yaml; \
	fi
	@for f in config/campaigns/*.yaml; do \
	  t=$(DESTDIR)$(SYSCONFDIR)/hailong/campaigns/$$(basename $$f); \
	  if [ -e $$t ]; then echo "install: $$t exists, kept"; else install -m 0644 $$f $$t; fi; \
	done
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
	  systemd-sysusers $(SYSUSERSDIR)/hailong.conf && chgrp hailong $(SYSCONFDIR)/hailong/hailongd.yaml; \
	  echo "install: now edit $(SYSCONFDIR)/hailong/hailongd.yaml, then: systemctl daemon-reload && systemctl enable --now hailongd"; \
	fi

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i engine/*.[ch] gateway/*.[ch] sim/*.[ch] tests/*.c

compdb:
	$(MAKE) clean && bear -- $(MAKE) all

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
