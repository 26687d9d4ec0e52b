package cheader

import "testing"

func TestEval(t *testing.T) {
	h := Header{Values: map[string]any{"A": int64(3), "B": int64(0x10)}}
	for expr, want := range map[string]int64{
		"(64+1024+64)": 1152, "(A+1)": 4, "(1 << 1)": 2, "A | B": 19, "(B - A - 1)": 12, "(1 << 16)": 65536,
		"(A | \t B | 0)": 19, "0x0600": 0x600,
	} {
		if got, err := h.Eval(expr); err != nil || got != want {
			t.Errorf("eval(%q) = %d, %v; want %d", expr, got, err, want)
		}
	}
	for _, bad := range []string{"C", "(A", "A +", "sizeof(x)", "A * 2"} {
		if _, err := h.Eval(bad); err == nil {
			t.Errorf("eval(%q) did not fail", bad)
		}
	}
}
