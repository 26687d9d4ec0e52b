# l3dsr: one entry point for building, testing and demonstrating.
# `make test` and `make demo` install their own missing Debian packages (scripts/deps.sh).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

TOP     := $(abspath .)
BUILD   := $(TOP)/build
VERSION := $(shell cat $(TOP)/VERSION)
GO      ?= $(shell command -v go || echo /usr/local/go/bin/go)
KVERS    = $(shell $(TOP)/scripts/kernels.sh)
XTLIBDIR = $(shell pkg-config --variable=xtlibdir xtables 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/xtables)

KMOD_SRCS := $(wildcard kmod/*.c kmod/*.h kmod/Kbuild kmod/uapi/linux/netfilter/*.h)
KMOD_SRCS := $(filter-out kmod/libxt_%,$(KMOD_SRCS))

.PHONY: build deps deps-build kmod libxt go testtools unit vmtest test demo checkpatch clean

build: go kmod libxt

deps:
	$(TOP)/scripts/deps.sh all

deps-build:
	$(TOP)/scripts/deps.sh build

# One copy of the module sources per kernel: Kbuild writes its objects next to the sources.
# W=1 output is scanned: any compiler warning fails the build.
kmod: deps-build
	@for k in $(KVERS); do \
		out=$(BUILD)/kmod/$$k; rm -rf $$out; mkdir -p $$out; \
		cp -r kmod/Kbuild kmod/*.c kmod/*.h kmod/uapi VERSION $$out/; rm -f $$out/libxt_*; \
		echo "  KMOD    $$k"; \
		if ! make -s -C /lib/modules/$$k/build M=$$out W=1 \
			L3DSR_VERSION=$(VERSION) modules > $$out/build.log 2>&1; then \
			cat $$out/build.log; echo "kmod: build failed for $$k"; exit 1; fi; \
		if grep -E 'warning:|error:' $$out/build.log; then \
			echo "kmod: warnings building for $$k (W=1 must be clean)"; exit 1; fi; \
		mkdir -p $$out/test; cp kmod/test/Kbuild kmod/test/*.c $$out/test/; \
		if ! make -s -C /lib/modules/$$k/build M=$$out/test W=1 modules > $$out/test/build.log 2>&1; then \
			cat $$out/test/build.log; echo "kmod: self-test module build failed for $$k"; exit 1; fi; \
		if grep -E 'warning:|error:' $$out/test/build.log; then \
			echo "kmod: warnings building kmod/test for $$k (W=1 must be clean)"; exit 1; fi; \
	done

libxt: deps-build $(BUILD)/libxt/libxt_DADDR.so

$(BUILD)/libxt/libxt_DADDR.so: kmod/libxt_DADDR.c kmod/uapi/linux/netfilter/xt_DADDR.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -Ikmod/uapi \
		$$(pkg-config --cflags xtables) -o $@ $< $$(pkg-config --libs xtables)

# Test tools the VM scenarios run (the guest sees the host's files read-only).
# l3dsr-nltest drives the generic netlink family from C, independently of the
# Go client, so a bug shared by both cannot hide; genl.test runs the Go
# client's integration tests against the real module.
TESTTOOLS := $(BUILD)/map_kernel/l3dsr-nltest $(BUILD)/genl.test
testtools: deps-build $(TESTTOOLS)

$(BUILD)/map_kernel/l3dsr-nltest: tests/scenarios/map_kernel.d/l3dsr-nltest.c kmod/uapi/linux/l3dsr.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -Ikmod/uapi -o $@ $<

$(BUILD)/genl.test: $(wildcard genl/*.go) go.mod go.sum
	CGO_ENABLED=0 $(GO) test -c -o $@ ./genl

go:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BUILD)/l3dsr ./cmd/l3dsr

unit:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 ./...

vmtest: deps kmod libxt go testtools
	$(TOP)/tests/vm/run.sh

test: deps unit checkpatch kmod libxt go testtools vmtest

demo: deps kmod libxt go
	$(TOP)/tests/vm/run.sh --demo

# checkpatch.pl ships in the linux-source tarball, not in the headers. Kernel C
# only: libxt_DADDR.c is userspace (libxtables) code.
KERNEL_C = $(filter-out kmod/libxt_%,$(wildcard kmod/*.c kmod/*.h kmod/test/*.c kmod/test/*.h)) \
	   $(wildcard kmod/uapi/linux/netfilter/*.h kmod/uapi/linux/*.h)
checkpatch:
	$(TOP)/scripts/checkpatch.sh $(KERNEL_C)

clean:
	rm -rf $(BUILD)
