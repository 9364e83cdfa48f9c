# SPDX-License-Identifier: GPL-3.0-or-later
# mkmesh. The two commands a user needs: `make image` and `make test`.

PKGS     := libarchive libguestfs libcurl jansson libzstd libcrypto zlib ext2fs com_err
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.1.0)
CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            -Wformat-security
ifeq ($(DEVELOPER),1)
WARN     += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=$(SANITIZE)
endif
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) $(PKG_CFLAGS) -D_GNU_SOURCE \
             -DMKMESH_VERSION='"$(VERSION)"' -MMD -MP
LIBS       = $(PKG_LIBS) -lpthread

B := build
LIB_SRC  := $(filter-out builder/main.c,$(wildcard builder/*.c)) $(wildcard uploader/*.c)
LIB_OBJ  := $(LIB_SRC:%.c=$(B)/%.o)
TESTS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test-*.c))

# Fuzzing (tests/fuzz/): one libFuzzer harness per untrusted input. `make
# fuzz` builds them with clang and runs each for FUZZ_SECONDS; `make test`
# replays their corpora and kept crashes without clang (test-fuzz-NAME),
# with gcc's sanitizers when it has them.
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c)))
FUZZ_REPLAY  := $(FUZZ_NAMES:%=$(B)/tests/test-fuzz-%)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_DEFS    := -Ibuilder -Iuploader -DFUZZ_SRCDIR='"$(CURDIR)"'
FUZZ_CFLAGS  = -std=gnu11 $(WARN) -O1 -g $(PKG_CFLAGS) -D_GNU_SOURCE -DMKMESH_VERSION='"$(VERSION)"' \
               -MMD -MP -fsanitize=fuzzer-no-link $(FUZZ_SAN)
# Asked once, when a replay is built: does $(CC) link with the sanitizers?
REPLAY_SAN = $(eval REPLAY_SAN := $(shell printf 'int main(void){return 0;}\n' | \
	$(CC) $(FUZZ_SAN) -x c -o /dev/null - 2>/dev/null && echo '$(FUZZ_SAN)'))$(REPLAY_SAN)

# Where images and caches go; override on the command line.
TARGET   ?= droplet
BUILD_ARGS ?=

.PHONY: all deps test-deps image test test-unit test-integration test-slow test-fresh bench clean \
	fuzz fuzz-deps fuzz-build

all: mkmesh

mkmesh: $(B)/builder/main.o $(LIB_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The site file's schema is built into site.o (.incbin, see uploader/site.c):
# the machine's check reads the same file from the image.
$(B)/uploader/site.o: overlays/base/usr/share/mkmesh/site-schema.json

$(B)/tests/%: tests/unit/%.c $(LIB_OBJ) tests/unit/tests.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Ibuilder -Iuploader $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)

# Tools for measuring by hand (not installed, not run by `make test`):
# build/tests/ext4-write TAR IMAGE SIZE-MiB times ext4_write_tree.
$(B)/tests/ext4-write: tests/tools/ext4-write.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)

# Installs what is missing when run as root; otherwise prints the command.
deps:
	@scripts/deps.sh

test-deps:
	@scripts/deps.sh --tests

image: deps
	$(MAKE) mkmesh
	./mkmesh build $(TARGET) $(BUILD_ARGS)

test: test-deps
	$(MAKE) mkmesh $(TESTS) $(FUZZ_REPLAY)
	@tests/run.sh

test-unit: mkmesh $(TESTS) $(FUZZ_REPLAY)
	@tests/run.sh unit

test-slow: test-deps
	$(MAKE) mkmesh $(TESTS) $(FUZZ_REPLAY)
	@MKMESH_SLOW=1 tests/run.sh slow

# The replay of a fuzz harness: its library objects built apart, with the
# sanitizers, and linked from an archive (only what the harness calls).
$(B)/replay/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(REPLAY_SAN) -c -o $@ $<

# Static patterns, for the harnesses only: a pattern that matches any name
# would also offer to remake the included *.d files.
$(FUZZ_NAMES:%=$(B)/replay/tests/fuzz/%.o): $(B)/replay/tests/fuzz/%.o: tests/fuzz/%.c tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(REPLAY_SAN) $(FUZZ_DEFS) -c -o $@ $<

$(FUZZ_NAMES:%=$(B)/replay/tests/fuzz/replay-%.o): $(B)/replay/tests/fuzz/replay-%.o: tests/fuzz/replay.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(REPLAY_SAN) $(FUZZ_DEFS) -DFUZZ_NAME='"$*"' -c -o $@ $<

$(B)/replay/libmkmesh.a: $(LIB_SRC:%.c=$(B)/replay/%.o)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_REPLAY): $(B)/tests/test-fuzz-%: $(B)/replay/tests/fuzz/%.o $(B)/replay/tests/fuzz/replay-%.o $(B)/replay/libmkmesh.a
	@mkdir -p $(dir $@)
	$(CC) $(REPLAY_SAN) $(LDFLAGS) -o $@ $^ $(LIBS)

# `make fuzz`: clang's libFuzzer; FUZZ_SECONDS=N for each harness.
fuzz-deps:
	@scripts/deps.sh --fuzz

fuzz: fuzz-deps
	$(MAKE) fuzz-build
	@FUZZ_SECONDS='$(FUZZ_SECONDS)' tests/fuzz/run.sh $(FUZZ_NAMES)

fuzz-build: $(FUZZ_NAMES:%=$(B)/fuzz/bin/%)

$(B)/fuzz/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_DEFS) -c -o $@ $<

$(B)/fuzz/libmkmesh.a: $(LIB_SRC:%.c=$(B)/fuzz/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_NAMES:%=$(B)/fuzz/bin/%): $(B)/fuzz/bin/%: $(B)/fuzz/obj/tests/fuzz/%.o $(B)/fuzz/libmkmesh.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LIBS)

# `make test` as a new user runs it: in a fresh bookworm root (root only;
# tests/fresh.sh says what it carries in). Run it before resolving an issue
# that changes the set-up.
test-fresh: deps
	@bash tests/fresh.sh

bench: deps
	$(MAKE) mkmesh
	@bash tests/bench.sh

# Both images, SHA256SUMS and its minisign signature in images/release-VERSION
# (scripts/release.sh says which variables it reads: MKMESH_SIGNING_KEY, ...).
.PHONY: release
release: mkmesh
	@VERSION='$(VERSION)' scripts/release.sh

clean:
	rm -rf $(B) mkmesh

-include $(shell find $(B) -name '*.d' 2>/dev/null)
