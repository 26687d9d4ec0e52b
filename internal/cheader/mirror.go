package cheader

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

// Mirror is a Go package's copy of the constants of a C header, as its
// test checks them.
type Mirror struct {
	// Path is the header; Missing, if set, says what to do when it is not
	// there.
	Path, Missing string
	// GoFile holds the Go constants that mirror the header, each naming
	// its C constant first in its line comment (goConsts). Values adds
	// the names it cannot say that way, with the values the Go side uses.
	GoFile string
	Values map[string]any
	// Enums are the header's enums (by first member: they may be
	// anonymous) of which every member must be in Values, so that a new
	// command or attribute is noticed. Ignored are the ones the Go side
	// knows it does not use. An enum of the header in neither is a
	// difference.
	Enums, Ignored []string
	// All makes every name of the header, #defines too, a member that
	// must be in Values.
	All bool
	// MinNames is how many names the parse must find at least; fewer
	// means the parser is broken.
	MinNames int
}

// Compare lists every difference between the header h and m, sorted.
func (m Mirror) Compare(h Header) []string {
	var diffs []string
	for name, gv := range m.Values {
		hv, ok := h.Values[name]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s = %v is in Go but not in the header", name, gv))
		case hv != gv:
			diffs = append(diffs, fmt.Sprintf("%s: header %v, Go %v", name, hv, gv))
		}
	}
	known := map[string]bool{}
	for _, e := range append(append([]string{}, m.Enums...), m.Ignored...) {
		known[e] = true
		if _, ok := h.Enums[e]; !ok {
			diffs = append(diffs, fmt.Sprintf("enum %s is not in the header", e))
		}
	}
	for first := range h.Enums {
		if !known[first] {
			diffs = append(diffs, fmt.Sprintf("enum %s is in the header but not known to Go", first))
		}
	}
	needed := map[string]bool{}
	for _, e := range m.Enums {
		for _, name := range h.Enums[e] {
			needed[name] = true
		}
	}
	if m.All {
		for name := range h.Values {
			needed[name] = true
		}
	}
	for name := range needed {
		if _, ok := m.Values[name]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s = %v is in the header but has no Go constant", name, h.Values[name]))
		}
	}
	sort.Strings(diffs)
	return diffs
}

// Test fails t on every difference between the header and m, and on every
// edit of the header Compare does not notice, so that the comparison is
// tested too. An edit is its name, a text of the header, the text that
// replaces it, and what one of the differences must then contain.
func (m Mirror) Test(t *testing.T, edits [][4]string) {
	t.Helper()
	b, err := os.ReadFile(m.Path)
	if err != nil {
		t.Fatalf("%v%s", err, m.Missing)
	}
	orig := string(b)
	goValues, err := goConsts(m.GoFile)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range m.Values {
		if _, dup := goValues[name]; dup {
			t.Fatalf("%s is in Values and named in %s", name, m.GoFile)
		}
		goValues[name] = v
	}
	m.Values = goValues
	h, err := parse(orig)
	if err != nil {
		t.Fatalf("parsing %s: %v", m.Path, err)
	}
	if len(h.Enums) != len(m.Enums)+len(m.Ignored) || len(h.Values) < m.MinNames {
		t.Fatalf("parsed only %d enums and %d names from %s: the parser is broken", len(h.Enums), len(h.Values), m.Path)
	}
	for _, d := range m.Compare(h) {
		t.Errorf("%s: %s", m.Path, d)
	}
	for _, e := range edits {
		name, old, repl, want := e[0], e[1], e[2], e[3]
		t.Run(name, func(t *testing.T) {
			src := strings.Replace(orig, old, repl, 1)
			if src == orig {
				t.Fatalf("edit %q did not apply: update this test to the header", old)
			}
			h, err := parse(src)
			if err != nil {
				t.Fatal(err)
			}
			diffs := m.Compare(h)
			if !strings.Contains(strings.Join(diffs, "\n"), want) {
				t.Errorf("differences %q, want one containing %q", diffs, want)
			}
		})
	}
}
