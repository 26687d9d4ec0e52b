package cheader

import "testing"

func TestEval(t *testing.T) {
	h := Header{Values: map[string]any{"A": int64(3), "B": int64(0x10)}}
	for expr, want := range map[string]int64{
		"(64+1024+64)": 1152, "(A+1)": 4, "(1 << 1)": 2, "A | B": 19, "(B - A - 1)": 12, "(1 << 16)": 65536,
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
