// Package bpfdsr is the tc-BPF backend of the DSCP→VIP rewrite: it loads the
// program of bpf/l3dsr.bpf.c, pins its maps per network namespace, edits
// the table, and attaches the program to interfaces (tcx, or clsact where
// the kernel has no tcx).
package bpfdsr

// The object and its Go bindings are committed, so that building needs no
// LLVM; `make bpf` runs this, and a test fails when the committed object is
// not what the source compiles to. The bytes depend on the clang version:
// the committed ones are Debian 12's clang 14.0.6 (scripts/deps.sh build).
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -cc clang -target bpfel l3dsr ../../bpf/l3dsr.bpf.c -- -I../../bpf -I/usr/include/x86_64-linux-gnu -O2 -g -Wall -Werror
