package cheader

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestEval(t *testing.T) {
	h := Header{Values: map[string]any{"A": int64(3), "B": int64(0x10)}}
	for expr, want := range map[string]int64{
		"(64+1024+64)": 1152, "(A+1)": 4, "(1 << 1)": 2, "A | B": 19, "(B - A - 1)": 12, "(1 << 16)": 65536, "(1U << 1)": 2,
		"(A | \t B | 0)": 19, "0x0600": 0x600,
	} {
		if got, err := h.eval(expr); err != nil || got != want {
			t.Errorf("eval(%q) = %d, %v; want %d", expr, got, err, want)
		}
	}
	for _, bad := range []string{"C", "(A", "A +", "sizeof(x)", "A * 2"} {
		if _, err := h.eval(bad); err == nil {
			t.Errorf("eval(%q) did not fail", bad)
		}
	}
}

// An object-like #define the parser cannot evaluate fails the parse (the
// expressions of both headers the tests read).
func TestParseFailsOnUnknownExpression(t *testing.T) {
	for _, src := range []string{"#define IP_VS_X (sizeof(struct foo))\n", "#define L3DSR_X (sizeof(struct foo))\n"} {
		if _, err := parse(src); err == nil {
			t.Errorf("%q: an expression the parser does not understand must fail the parse", src)
		}
	}
}

// The Go side is read from the constants' line comments: strings, numbers
// and expressions of the constants before them; a C name claimed twice is
// an error.
func TestGoConsts(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) string {
		p := filepath.Join(dir, "abi.go")
		if err := os.WriteFile(p, []byte("package x\n\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := goConsts(write("const name = \"x\" // X_NAME\n\nconst (\n\ta = 0x10 // X_A: a comment\n\tb = 1 << 2 // X_B\n\tc = a | b // X_C, after\n\td = 5\n\te = 6 // not a C name\n)\n"))
	want := map[string]any{"X_NAME": "x", "X_A": int64(16), "X_B": int64(4), "X_C": int64(20)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("goConsts = %v, %v; want %v", got, err, want)
	}
	if _, err := goConsts(write("const (\n\ta = 1 // X_A\n\tb = 2 // X_A\n)\n")); err == nil {
		t.Error("a C name claimed twice must be an error")
	}
}
