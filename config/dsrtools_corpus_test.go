package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpusNames are the host names the corpus's files use, as the fake
// resolver knows them.
var corpusNames = map[string][]string{
	"www.example.com":    {"192.0.2.80"},
	"dual.example.com":   {"2001:db8::81", "192.0.2.81"},
	"pool.example.com":   {"192.0.2.1", "192.0.2.2"},
	"v6only.example.com": {"2001:db8::86"},
}

// TestDSRToolsCorpus converts every testdata/dsrtools/CASE/dsr.d as 'l3dsr
// save --from-dsrtools' does and compares the result with CASE/expected.yaml
// (the file, as Marshal writes it) or CASE/expected.err (the errors, with
// the directory left out of the file names), both written by hand; see
// testdata/dsrtools/README.md.
func TestDSRToolsCorpus(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "dsrtools", "*", "dsr.d"))
	if err != nil || len(dirs) < 15 {
		t.Fatalf("the corpus is missing: %d cases (%v)", len(dirs), err)
	}
	for _, d := range dirs {
		c := filepath.Dir(d)
		t.Run(filepath.Base(c), func(t *testing.T) {
			wantYAML, yerr := os.ReadFile(filepath.Join(c, "expected.yaml"))
			wantErr, eerr := os.ReadFile(filepath.Join(c, "expected.err"))
			if (yerr == nil) == (eerr == nil) {
				t.Fatalf("give exactly one of expected.yaml and expected.err")
			}
			f, err := fromDSRTools(d, fakeResolver(corpusNames))
			if eerr == nil {
				var es Errors
				if !errors.As(err, &es) {
					t.Fatalf("want the errors\n%s\ngot %v (%+v)", wantErr, err, f)
				}
				got := strings.ReplaceAll(es.Error(), d+string(filepath.Separator), "") + "\n"
				if got != string(wantErr) {
					t.Fatalf("errors:\n%s\nwant:\n%s", got, wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("want expected.yaml, got the errors:\n%v", err)
			}
			out, err := Marshal(f, "")
			if err != nil || string(out) != string(wantYAML) {
				t.Fatalf("converted (%v):\n%s\nwant:\n%s", err, out, wantYAML)
			}
			// What save writes is a config file that loads, to the same VIPs.
			g, err := parseFile("expected.yaml", out)
			if err != nil {
				t.Fatalf("the converted file does not load: %v", err)
			}
			if a, b := withoutPositions(f), withoutPositions(g); len(a.realServer.VIPs) != len(b.realServer.VIPs) {
				t.Fatalf("loaded %d VIPs, converted %d", len(b.realServer.VIPs), len(a.realServer.VIPs))
			}
		})
	}
}
