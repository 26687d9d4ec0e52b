package pcapcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/l3dsr/l3dsr/pcapcheck/pcapgen"
)

// TcpdumpExpr is the tcpdump filter expression for "DSCP code, IPv4 or
// IPv6, with up to two VLAN tags". libpcap's "vlan" moves the offsets of
// everything after it, so the third alternative reads behind two tags.
func TcpdumpExpr(code int) string {
	e := fmt.Sprintf("((ip and (ip[1] & 0xfc) >> 2 == %d) or (ip6 and (ip6[0:2] & 0x0fc0) >> 6 == %d))", code, code)
	return fmt.Sprintf("%s or (vlan and %s) or (vlan and %s)", e, e, e)
}

// needTcpdump fails (never skips) the test when tcpdump is missing.
func needTcpdump(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Fatalf("tcpdump is needed to cross-check the counts: install it (apt-get install tcpdump, or scripts/deps.sh vm): %v", err)
	}
	return p
}

// tcpdumpCount runs tcpdump -r file -w OUT expr and counts the packets in
// OUT. (Counting printed lines is not exact: tcpdump prints some packets,
// e.g. truncated ones, on two lines.)
func tcpdumpCount(t *testing.T, tcpdump, file, expr string) int {
	t.Helper()
	var errb bytes.Buffer
	out := filepath.Join(t.TempDir(), "tcpdump-out.pcap")
	cmd := exec.Command(tcpdump, "-r", file, "-w", out, expr)
	cmd.Stderr = &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tcpdump -r %s '%s': %v: %s", file, expr, err, errb.String())
	}
	src, err := openFile(out)
	if err != nil {
		t.Fatalf("reading tcpdump's output: %v", err)
	}
	defer src.Close()
	n := 0
	for {
		if _, _, err := src.readPacket(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("reading tcpdump's output: %v", err)
			}
			return n
		}
		n++
	}
}

// testFiles writes the capture files of the cross-check.
func testFiles(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]struct {
		mix pcapgen.Mix
		n   int
		ng  bool
	}{
		"mixed.pcap":       {pcapgen.Mix{Seed: 1, Codes: []uint8{21, 22, 46}, Tags: true, IPv6: true, Truncate: true, Noise: true}, 6000, false},
		"mixed.pcapng":     {pcapgen.Mix{Seed: 2, Codes: []uint8{1, 63}, Tags: true, IPv6: true, Truncate: true, Noise: true}, 4000, true},
		"ipv6-vlan.pcap":   {pcapgen.Mix{Seed: 3, Codes: []uint8{10, 32, 33}, Tags: true, IPv6: true}, 3000, false},
		"truncated.pcap":   {pcapgen.Mix{Seed: 4, Codes: []uint8{0, 21}, Truncate: true, Noise: true}, 3000, false},
		"plain-dsr.pcapng": {pcapgen.Mix{Seed: 5, Codes: []uint8{21}}, 1000, true},
	}
	out := map[string]string{}
	for name, f := range files {
		path := filepath.Join(dir, name)
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := pcapgen.NewWriter(fh, f.ng, 65535)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.mix.Generate(w, f.n); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		fh.Close()
		out[name] = path
	}
	return out
}

// countPerCode is what verify counts per DSCP code in a file.
func countPerCode(t *testing.T, file string) [64]uint64 {
	t.Helper()
	src, err := openFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	an, err := newAnalyzer(config{Role: roleRealServer, Codes: ^DSCPSet(0)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(context.Background(), src, an, runOptions{}); err != nil {
		t.Fatal(err)
	}
	var n [64]uint64
	for _, c := range an.report().PerCode {
		n[c.DSCP] = c.Packets
	}
	return n
}

// TestCountsMatchTcpdump: for DSCP codes in and around the files' DSR codes
// (and the extremes), verify and tcpdump with the equivalent expression
// count the same packets in each file.
func TestCountsMatchTcpdump(t *testing.T) {
	tcpdump := needTcpdump(t)
	for name, file := range testFiles(t) {
		got := countPerCode(t, file)
		var total uint64
		for _, c := range []int{0, 1, 2, 10, 21, 22, 31, 32, 33, 46, 62, 63} {
			want := tcpdumpCount(t, tcpdump, file, TcpdumpExpr(c))
			if got[c] != uint64(want) {
				t.Errorf("%s, DSCP %d: verify counted %d packets, tcpdump %d", name, c, got[c], want)
			}
			total += got[c]
		}
		if total == 0 {
			t.Errorf("%s: no packet with any code: the file proves nothing", name)
		}
	}
}

// TestFilterMatchesTcpdump: the BPF program for a set of codes (and a reply
// match) accepts the same packets as tcpdump with the equivalent expression.
func TestFilterMatchesTcpdump(t *testing.T) {
	tcpdump := needTcpdump(t)
	files := testFiles(t)
	file := files["mixed.pcap"]
	spec := filterSpec{DSCP: 1<<21 | 1<<46, Matches: []match{{Src: true, Addr: pcapgen.VIP4(1), Port: 80}, {Src: true, Addr: pcapgen.RIP6}}}
	raw, err := filter(spec)
	if err != nil {
		t.Fatal(err)
	}
	src, err := openFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	accepted := 0
	for {
		data, _, err := src.readPacket()
		if err != nil {
			break
		}
		if runFilter(t, raw, data) {
			accepted++
		}
	}
	one := func(e string) string {
		return fmt.Sprintf("(%s) or (vlan and (%s)) or (vlan and (%s))", e, e, e)
	}
	expr := one(fmt.Sprintf("(ip and ((ip[1] & 0xfc) >> 2 == 21 or (ip[1] & 0xfc) >> 2 == 46 or (src host %s and src port 80)))"+
		" or (ip6 and ((ip6[0:2] & 0x0fc0) >> 6 == 21 or (ip6[0:2] & 0x0fc0) >> 6 == 46 or src host %s))", pcapgen.VIP4(1), pcapgen.RIP6))
	want := tcpdumpCount(t, tcpdump, file, expr)
	if accepted != want || want == 0 {
		t.Errorf("BPF program accepted %d packets, tcpdump '%s' %d", accepted, expr, want)
	}
}
