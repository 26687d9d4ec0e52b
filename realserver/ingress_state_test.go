package realserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state file of a version without the list loads as any interface; one
// with it keeps it.
func TestIngressState(t *testing.T) {
	dir := t.TempDir()
	old := `{"vips":[{"vip":"10.0.0.1","mode":"dscp","dscp":21,"added_addr":true}],"rules":{"ipv4":{"iptables":""}}}`
	if err := os.WriteFile(filepath.Join(dir, stateFile), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(dir)
	if err != nil || st.Ingress != nil || st.Ingress.String() != "any" {
		t.Fatalf("old state: ingress %q, %v", st.Ingress, err)
	}
	st.Ingress = Ingress{"eth1", "eth2"}
	if err := saveState(dir, st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, stateFile))
	if !strings.Contains(string(b), `"ingress": [`) {
		t.Errorf("saved state:\n%s", b)
	}
	if st, err = loadState(dir); err != nil || st.Ingress.String() != "eth1,eth2" {
		t.Errorf("reloaded: ingress %q, %v", st.Ingress, err)
	}
}

func TestParseIngress(t *testing.T) {
	for in, want := range map[string]string{"": "any", "any": "any", " eth1, eth0,eth1": "eth0,eth1", "bond0.7": "bond0.7"} {
		ing, err := parseIngress(in)
		if err != nil || ing.String() != want {
			t.Errorf("%q: %q, %v; want %q", in, ing, err, want)
		}
	}
	for _, bad := range []string{"eth+", "eth0,", "a b"} {
		if _, err := parseIngress(bad); err == nil || !strings.Contains(err.Error(), "ingress interface") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
