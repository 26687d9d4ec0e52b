package doctor

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestWriteReport(t *testing.T) {
	h, e := cleanHost()
	h.sysctls["net.ipv4.vs.conntrack"] = "1"
	rep := run(t, h, e)
	var b bytes.Buffer
	if err := WriteReport(&b, rep, "table"); err != nil {
		t.Fatal(err)
	}
	want := "checked as real server and director (from " + testFile + ")\n" +
		"table backend: xt_DADDR\n\n" +
		"problem [ipvs-sysctl] net.ipv4.vs.conntrack is 1, want 0\n" +
		"        why: " + ipvsSettings[0].why + "\n" +
		"        fix: sysctl -w net.ipv4.vs.conntrack=0\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	if err := WriteReport(&b, rep, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || len(back.Findings) != 1 || back.Backend != "xt_DADDR" || back.Findings[0].Fix != "sysctl -w net.ipv4.vs.conntrack=0" || back.Findings[0].Level != problem {
		t.Errorf("json %s: %v", b.String(), err)
	}

	b.Reset()
	WriteReport(&b, Report{Source: "running state", Roles: []string{"real server"}}, "table")
	if !strings.HasSuffix(b.String(), "\nno problem found\n") {
		t.Errorf("clean table: %q", b.String())
	}
}
