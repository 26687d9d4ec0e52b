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

# The same Go flags for every Go command, so that vet, the tests, the binary and the test tools
# share one compile in Go's build cache: with cgo on for the tests and off for the binary, every
# dependency compiled twice (about 5 minutes of make test on 2 cores). l3dsr has no C, and
# -trimpath keeps build paths out of the binaries.
export CGO_ENABLED := 0
GOFLAGS := $(filter-out -trimpath,$(GOFLAGS)) -trimpath
export GOFLAGS


.PHONY: build deps deps-build test-deps kmod libxt go bpf testtools unit vmtest test demo checkpatch clean

build: go kmod libxt

deps:
	$(TOP)/scripts/deps.sh all

deps-build:
	$(TOP)/scripts/deps.sh build

# deps.sh and kernels.sh against a stubbed apt (no root, no network): first in make test, so a
# fresh machine's package lists are handled before anything is installed.
test-deps:
	$(TOP)/tests/deps/run.sh

# One copy of the module sources per kernel: Kbuild writes its objects next to the sources.
# W=1 output is scanned: any compiler warning fails the build.
kmod: deps-build kmod-build

# kmod without installing headers: the debug kernel (make test-debug) brings its own build tree.
.PHONY: kmod-build
kmod-build:
	@test -n "$(KVERS)" || { echo "kmod: scripts/kernels.sh named no kernel (its error is above)"; exit 1; }
	@for k in $(KVERS); do \
		out=$(BUILD)/kmod/$$k; rm -rf $$out; mkdir -p $$out; \
		cp -r kmod/Kbuild kmod/*.c kmod/*.h kmod/uapi VERSION $$out/; \
		echo "  KMOD    $$k"; \
		if ! make -s -C /lib/modules/$$k/build M=$$out W=1 \
			L3DSR_VERSION=$(VERSION) modules > $$out/build.log 2>&1; then \
			cat $$out/build.log; echo "kmod: build failed for $$k"; exit 1; fi; \
		if grep -E 'warning:|error:' $$out/build.log; then \
			echo "kmod: warnings building for $$k (W=1 must be clean)"; exit 1; fi; \
		mkdir -p $$out/test; cp kmod/test/Kbuild kmod/test/*.[ch] $$out/test/; \
		if ! make -s -C /lib/modules/$$k/build M=$$out/test W=1 modules > $$out/test/build.log 2>&1; then \
			cat $$out/test/build.log; echo "kmod: self-test module build failed for $$k"; exit 1; fi; \
		if grep -E 'warning:|error:' $$out/test/build.log; then \
			echo "kmod: warnings building kmod/test for $$k (W=1 must be clean)"; exit 1; fi; \
	done

libxt: deps-build $(BUILD)/libxt/libxt_DADDR.so

$(BUILD)/libxt/libxt_DADDR.so: xtables/libxt_DADDR.c kmod/uapi/linux/netfilter/xt_DADDR.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -fPIC -shared -Ikmod/uapi \
		$$(pkg-config --cflags xtables) -o $@ $< $$(pkg-config --libs xtables)

# Test tools the VM scenarios run (the guest sees the host's files read-only).
# l3dsr-nltest drives the generic netlink family from C, independently of the
# Go client, so a bug shared by both cannot hide; maptable.test runs the Go
# client's integration tests against the real module.
# Every Go file: a test binary depends on the packages its package imports.
GOSRC := $(shell git ls-files '*.go' 2>/dev/null || find . -name '*.go')
TESTTOOLS := $(BUILD)/map_kernel/l3dsr-nltest $(BUILD)/maptable.test $(BUILD)/dscpmark.test
TESTTOOLS += $(BUILD)/ipvs.test $(BUILD)/bpfdsr.test $(BUILD)/genlfuzz $(BUILD)/mhpick
testtools: deps-build $(TESTTOOLS)

$(BUILD)/map_kernel/l3dsr-nltest: tests/scenarios/map_kernel.d/l3dsr-nltest.c kmod/uapi/linux/l3dsr.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -g -Wall -Wextra -Werror -Ikmod/uapi -o $@ $<

$(BUILD)/maptable.test: $(GOSRC) go.mod go.sum
	$(GO) test -c -o $@ ./maptable

$(BUILD)/bpfdsr.test: $(GOSRC) go.mod go.sum internal/bpfdsr/l3dsr_bpfel.o
	$(GO) test -c -o $@ ./internal/bpfdsr

$(BUILD)/ipvs.test: $(GOSRC) go.mod go.sum
	$(GO) test -c -o $@ ./internal/ipvs

$(BUILD)/dscpmark.test: $(GOSRC) go.mod go.sum
	$(GO) test -c -o $@ ./internal/dscpmark

$(BUILD)/icmprelay.test: $(GOSRC) go.mod go.sum
	$(GO) test -c -o $@ ./internal/icmprelay

$(BUILD)/bgptest.test: $(GOSRC) go.mod go.sum
	$(GO) test -c -o $@ ./internal/bgp/bgptest

# The generic netlink fuzzer of the genl_fuzz scenario (issue 19).
$(BUILD)/genlfuzz: $(GOSRC) go.mod go.sum
	$(GO) build -o $@ ./tests/tools/genlfuzz

# ip_vs_mh's choices as internal/ipvs's model makes them, for the mh_order scenario (issue 20).
$(BUILD)/mhpick: $(GOSRC) go.mod go.sum
	$(GO) build -o $@ ./tests/tools/mhpick

# The tc-BPF object and its Go bindings, committed so that `make go` needs no LLVM; the object
# test in internal/bpfdsr fails when they are not what bpf/ compiles to. Debian's clang 14: the
# bytes are reproducible with one clang, not across versions.
bpf: deps-build
	cd $(TOP)/internal/bpfdsr && $(GO) generate

go:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BUILD)/l3dsr ./cmd/l3dsr

unit:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) test -count=1 ./...
	python3 -m unittest discover -s tests/bench -p 'test_*.py'
	python3 -m unittest discover -s tests/scenarios/pkt_fuzz.d -p 'test_*.py'
	python3 -m unittest discover -s tests/soak -p 'test_*.py'

# Fuzz targets (issue 25): no input makes l3dsr panic, and what save writes
# loads again the same. go test -fuzz takes one package and one target per
# run. Every target's seed corpus runs in `unit` (go test). fuzz-smoke (in make test) fuzzes
# the parsers of files and captures for 5 s each; make fuzz runs every target FUZZTIME.
# A fuzz build compiles every package it links again, instrumented: the CLI's targets link the
# agent and GoBGP, 111 s of CPU on 2 cores for 5 s of fuzzing (7 Dec 2026), which make test's
# 60-minute budget cannot spare; they run in make fuzz.
FUZZ_SMOKE_TARGETS := ./config:FuzzParse ./config:FuzzDSRTools
FUZZ_SMOKE_TARGETS += ./pcapcheck:FuzzDecode ./pcapcheck:FuzzReadCapture
FUZZ_TARGETS := $(FUZZ_SMOKE_TARGETS) ./cmd/l3dsr:FuzzTableJSON ./cmd/l3dsr:FuzzRun
FUZZTIME ?= 10m
FUZZSMOKE ?= 5s
# fuzz_run TIME TARGETS
fuzz_run = for t in $(2); do \
		echo "  FUZZ    $$t ($(1))"; \
		$(GO) test $${t%%:*} -run '^$$' -fuzz "^$${t\#\#*:}\$$" -fuzztime=$(1) -parallel=1 || exit 1; \
	done
.PHONY: fuzz fuzz-smoke
fuzz-smoke:
	@$(call fuzz_run,$(FUZZSMOKE),$(FUZZ_SMOKE_TARGETS))
fuzz:
	@$(call fuzz_run,$(FUZZTIME),$(FUZZ_TARGETS))

vmtest: deps kmod libxt go testtools
	$(TOP)/tests/vm/run.sh
	$(MAKE) vmtest-lockdown

# map_cli's scale and live-change cases with 50 replaces of 65,536 entries, on the module and on
# the BPF backend (tests/scale): about 11 minutes per kernel, too long for make test's budget
# (whose map_cli runs 4 replaces); run before a change to either table lands.
.PHONY: vmtest-scale
vmtest-scale: deps kmod libxt go testtools
	L3DSR_SCENARIO_DIR=$(TOP)/tests/scale $(TOP)/tests/vm/run.sh

# A second boot of each kernel in lockdown (what Secure Boot imposes): xt_DADDR cannot load and
# the BPF backend serves the real server (tests/lockdown/lockdown.sh).
.PHONY: vmtest-lockdown
vmtest-lockdown: deps kmod libxt go testtools
	L3DSR_SCENARIO_DIR=$(TOP)/tests/lockdown L3DSR_VM_APPEND="lockdown=integrity module.sig_enforce=1" \
		$(TOP)/tests/vm/run.sh

# Several directors (issue 20, tests/ecmp): outside make test, whose budget it does not fit.
# bgp_ecmp runs five failovers, a drain and 10 MB downloads under TCG: 1800 s per scenario.
# go_integration runs the relay's and the BGP speaker's integration tests from these.
ECMPTOOLS := $(BUILD)/icmprelay.test $(BUILD)/bgptest.test
.PHONY: test-ecmp
test-ecmp: deps kmod libxt go testtools $(ECMPTOOLS)
	L3DSR_VM_TIMEOUT_PER_SCENARIO=1800 L3DSR_SCENARIO_DIR=$(TOP)/tests/ecmp $(TOP)/tests/vm/run.sh

# make test's stages in order, each timed: the budget is 60 minutes on a fresh 2-core machine,
# package installs included, and the times say where it goes.
TEST_STAGES := test-deps deps unit fuzz-smoke checkpatch kmod libxt go testtools vmtest pkgtest bench-smoke
test:
	@t0=$$(date +%s); for s in $(TEST_STAGES); do t=$$(date +%s); \
		$(MAKE) --no-print-directory $$s || { echo "make test: $$s failed after $$(($$(date +%s) - t))s"; exit 1; }; \
		echo "# make test: $$s took $$(($$(date +%s) - t))s"; \
	done; echo "# make test: $$(($$(date +%s) - t0))s in all"

# The debug bench (issue 19; README says how long it takes): Debian's 6.12 built with KASAN,
# kmemleak, lockdep, UBSAN and fault injection (tests/kernel/build.sh; cached, built once), the
# module against it, the checks that show the bench fails on a deliberate leak and
# use-after-free (tests/kernel/checks.sh), the kernel-facing scenarios with long fuzzing, then
# tests/kernel/scenarios (fault injection). Not part of make test: the kernel build alone is
# longer than its budget.
DEBUG_SCENARIOS ?= selftest checksum checksum_bpf checksum_direct iptables_rules map_kernel map_genl map_direct classic_dsr bpf_backend rule_race pkt_fuzz genl_fuzz
# The fuzzers' long runs: genl_fuzz 10 minutes, pkt_fuzz 2,000 packets per rewriter and family.
DEBUG_ENV ?= GENL_FUZZ_SECONDS=600 PKT_FUZZ_COUNT=2000 NLT_TIMEOUT=1800 MK_BULK_REPEAT=2 MK_BIG_TIMEOUT=1700 L3DSR_LOCK_TIMEOUT=15m NSX_TIMEOUT=300 CLASSIC_HOLD_SECONDS=120
DEBUG_VM := L3DSR_VM_MEM=3072 L3DSR_VM_TIMEOUT_PER_SCENARIO=2400
.PHONY: test-debug deps-debug
deps-debug:
	$(TOP)/scripts/deps.sh debug
test-debug: deps-debug libxt go testtools
	@set -e; krel=$$($(TOP)/tests/kernel/build.sh | tail -n 1); \
	test -n "$$krel" || { echo "test-debug: no debug kernel (tests/kernel/build.sh's error is above)"; exit 1; }; \
	L3DSR_KERNELS=$$krel $(MAKE) --no-print-directory kmod-build; \
	$(TOP)/tests/kernel/checks.sh $$krel; \
	rc=0; \
	$(DEBUG_VM) L3DSR_VM_ENV="$(DEBUG_ENV)" $(TOP)/tests/vm/run.sh -k $$krel $(addprefix -s ,$(DEBUG_SCENARIOS)) || rc=1; \
	$(DEBUG_VM) L3DSR_SCENARIO_DIR=$(TOP)/tests/kernel/scenarios $(TOP)/tests/vm/run.sh -k $$krel || rc=1; \
	exit $$rc

demo: deps kmod libxt go
	$(TOP)/tests/vm/run.sh --demo

# Benchmarks (issue 7, BENCHMARKS.md): about an hour per kernel. bench-smoke runs the
# same harness for seconds per kernel and checks only that it still produces numbers.
.PHONY: bench bench-smoke
bench: kmod libxt go testtools $(BUILD)/ipvsload
	$(TOP)/scripts/deps.sh bench
	$(TOP)/tests/bench/run.sh

# The Go IPVS client's side of the "1,000 services" control-plane row.
$(BUILD)/ipvsload: $(GOSRC) go.mod go.sum
	$(GO) build -o $@ ./tests/bench/ipvsload

bench-smoke: kmod libxt go testtools
	$(TOP)/scripts/deps.sh bench
	$(TOP)/tests/bench/run.sh --smoke

# A/B of two module builds in one boot (issue 18, BENCHMARKS.md "Reproducing"): A is xt_DADDR
# built from git REF, B the working tree's (with PATCH applied, if given); the table is printed
# and kept in build/bench/ab/ab.md. AB_CONFIGS and AB_ROUNDS choose configurations and rounds.
#   make bench-ab REF=main    make bench-ab PATCH=fix.diff    make bench-ab REF=v1.2 PATCH=fix.diff
.PHONY: bench-ab
bench-ab: kmod libxt go testtools
	@test -n "$(REF)$(PATCH)" || { echo "bench-ab: give REF=COMMIT (build A) and/or PATCH=FILE (build B)"; exit 2; }
	$(TOP)/scripts/deps.sh bench
	$(TOP)/tests/bench/run.sh $(if $(REF),--ab '$(REF)') $(if $(PATCH),--ab-patch '$(PATCH)')

# The BPF backend's receive-path rows alone (issue 17): the data lines land in
# build/bench/bpf/logs/KREL/bench_bpf.log (BENCHMARKS.md, "BPF backend").
.PHONY: bench-bpf
bench-bpf: kmod libxt go testtools
	$(TOP)/scripts/deps.sh bench
	L3DSR_SCENARIO_DIR=$(TOP)/tests/bench/scenarios L3DSR_VM_LOGS_OUT=$(BUILD)/bench/bpf/logs \
		L3DSR_VM_TIMEOUT_PER_SCENARIO=3600 $(TOP)/tests/vm/run.sh -s bench_bpf

# Addr mode's receive-path rows alone (issue 22): minutes per kernel; the data lines land in
# build/bench/addr/logs/KREL/bench_addr.log (BENCHMARKS.md, "Addr mode").
.PHONY: bench-addr
bench-addr: kmod libxt go testtools
	$(TOP)/scripts/deps.sh bench
	L3DSR_SCENARIO_DIR=$(TOP)/tests/bench/scenarios L3DSR_VM_LOGS_OUT=$(BUILD)/bench/addr/logs \
		$(TOP)/tests/vm/run.sh -s bench_addr

# The agent at 100 services x 4 reals checked every second: CPU, RSS, scrape time (BENCHMARKS.md).
.PHONY: bench-agent
bench-agent: kmod libxt go testtools
	$(TOP)/scripts/deps.sh bench
	L3DSR_SCENARIO_DIR=$(TOP)/tests/bench/scenarios $(TOP)/tests/vm/run.sh -s agent_scale

# The soak test (issue 19): SOAK_SECONDS (default an hour) of TCP and UDP through a map-mode real
# server while the table is replaced every second, namespaces come and go and the module is
# reloaded every SOAK_RELOAD_EVERY minutes; the memory sampled each minute must end flat
# (tests/soak/run.sh: build/soak/KREL/memory.png). Per kernel of scripts/kernels.sh, or SOAK_KERNEL.
#   make soak    make soak SOAK_SECONDS=300 SOAK_RELOAD_EVERY=2 SOAK_KERNEL=6.12.118+deb12-amd64
SOAK_SECONDS ?= 3600
.PHONY: soak
soak: kmod libxt go testtools
	$(TOP)/scripts/deps.sh bench
	SOAK_SECONDS=$(SOAK_SECONDS) $(TOP)/tests/soak/run.sh $(if $(SOAK_KERNEL),-k '$(SOAK_KERNEL)')

# checkpatch.pl ships in the linux-source tarball, not in the headers. Kernel C (bpf/ is too:
# the verifier's side of the kernel) only: xtables/libxt_DADDR.c is userspace (libxtables) code.
KERNEL_C = $(wildcard kmod/*.c kmod/*.h kmod/test/*.c kmod/test/*.h) \
	   $(wildcard kmod/uapi/linux/netfilter/*.h kmod/uapi/linux/*.h) \
	   $(wildcard bpf/*.c bpf/*.h)
checkpatch:
	$(TOP)/scripts/checkpatch.sh $(KERNEL_C)

clean:
	rm -rf $(BUILD)

# --- Packages (issue 6): l3dsr-dkms and l3dsr as .deb and .rpm -> build/packages/
# nfpm builds both formats from one description each (packaging/nfpm-*.yaml),
# with no rpmbuild and no dpkg-buildpackage. It is run from the Go module proxy
# at a pinned version: v2.46+ need go.digitalxero.dev modules the proxy refuses here.
# The staging tree holds the module source with dkms.conf (version filled in
# from VERSION), the maintainer scripts, and what `l3dsr gen-docs` writes.
NFPM_VERSION ?= v2.45.2
NFPM      = $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
PKGDIR   := $(BUILD)/packages
PKGSTAGE := $(PKGDIR)/stage
export SOURCE_DATE_EPOCH ?= $(shell git -C $(TOP) log -1 --format=%ct 2>/dev/null || date +%s)

.PHONY: packages pkgtest
packages: go libxt
	rm -rf $(PKGDIR); mkdir -p $(PKGSTAGE)/scripts $(PKGSTAGE)/l3dsr/usr/bin $(PKGSTAGE)/l3dsr/xtables
	src=$(PKGSTAGE)/dkms/usr/src/l3dsr-$(VERSION); mkdir -p $$src; \
		cp -r kmod/Kbuild kmod/*.c kmod/*.h kmod/uapi VERSION $$src/; \
		sed 's/@VERSION@/$(VERSION)/g' dkms/dkms.conf > $$src/dkms.conf; \
		chmod -R u=rwX,go=rX $(PKGSTAGE)/dkms
	for s in packaging/scripts/*.sh; do \
		sed 's/@VERSION@/$(VERSION)/g' $$s > $(PKGSTAGE)/scripts/$${s##*/}; done
	chmod 0755 $(PKGSTAGE)/scripts/*.sh
	install -m 0755 $(BUILD)/l3dsr $(PKGSTAGE)/l3dsr/usr/bin/l3dsr
	install -D -m 0644 packaging/systemd/l3dsr.service $(PKGSTAGE)/l3dsr/systemd/l3dsr.service
	install -D -m 0644 packaging/systemd/l3dsr-agent.service $(PKGSTAGE)/l3dsr/systemd/l3dsr-agent.service
	install -m 0644 packaging/l3dsr.conf.example $(PKGSTAGE)/l3dsr/l3dsr.conf
	install -m 0644 -s --strip-program=strip $(BUILD)/libxt/libxt_DADDR.so $(PKGSTAGE)/l3dsr/xtables/
	$(BUILD)/l3dsr gen-docs --man $(PKGSTAGE)/l3dsr/man --completions $(PKGSTAGE)/l3dsr/completions
	gzip -9n $(PKGSTAGE)/l3dsr/man/*.1
	cd $(PKGSTAGE) && for p in l3dsr-dkms l3dsr; do for f in deb rpm; do \
		VERSION=$(VERSION) $(NFPM) package -f $(TOP)/packaging/nfpm-$$p.yaml -p $$f -t $(PKGDIR)/ \
		|| exit 1; done; done
	@ls -1 $(PKGDIR)/*.deb $(PKGDIR)/*.rpm

# Builds, inspects, installs and purges the packages on this host (root; restores it).
pkgtest:
	$(TOP)/tests/pkg/run.sh
