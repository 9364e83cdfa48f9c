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

# Where images and caches go; override on the command line.
TARGET   ?= droplet
BUILD_ARGS ?=

.PHONY: all deps test-deps image test test-unit test-integration test-slow test-fresh bench clean

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

# Installs what is missing when run as root; otherwise prints the command.
deps:
	@scripts/deps.sh

test-deps:
	@scripts/deps.sh --tests

image: deps
	$(MAKE) mkmesh
	./mkmesh build $(TARGET) $(BUILD_ARGS)

test: test-deps
	$(MAKE) mkmesh $(TESTS)
	@tests/run.sh

test-unit: mkmesh $(TESTS)
	@tests/run.sh unit

test-slow: test-deps
	$(MAKE) mkmesh $(TESTS)
	@MKMESH_SLOW=1 tests/run.sh slow

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
