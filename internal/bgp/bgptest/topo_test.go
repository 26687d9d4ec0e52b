package bgptest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/l3dsr/l3dsr/internal/bgp"
	"github.com/l3dsr/l3dsr/internal/nstest"
)

const needs = "root, network namespaces, veth, BIRD 2 (bird, birdc)"

// topo is a router namespace running BIRD and a director namespace for the
// speaker, joined by a veth: r0 10.1.0.1 2001:db8:1::1 on the router,
// s0 10.1.0.11 2001:db8:1::11 on the director.
type topo struct {
	router, director *nstest.NS
	sock             string
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	nstest.Require(t, needs)
	for _, b := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(b); err != nil {
			t.Fatalf("%s is missing: install Debian's bird2 (%v)", b, err)
		}
	}
	r := nstest.New(t, "bgpr", needs)
	d := nstest.New(t, "bgpd", needs)
	run(t, "ip", "-n", r.Name, "link", "add", "r0", "type", "veth", "peer", "name", "s0", "netns", d.Name)
	for _, c := range [][]string{
		{r.Name, "r0", "10.1.0.1/24", "2001:db8:1::1/64"},
		{d.Name, "s0", "10.1.0.11/24", "2001:db8:1::11/64"},
	} {
		run(t, "ip", "-n", c[0], "addr", "add", c[2], "dev", c[1])
		run(t, "ip", "-n", c[0], "addr", "add", c[3], "dev", c[1], "nodad")
		run(t, "ip", "-n", c[0], "link", "set", c[1], "up")
	}
	return &topo{router: r, director: d}
}

// birdProto is one BGP protocol of the router: a session to the director.
type birdProto struct {
	name, local, neighbor, channel string
	asn                            uint32 // the director's ASN as the router expects it
	password                       string
	multihop                       bool   // the director is not on a connected network
	port                           uint16 // the router listens on this port; 0 is 179
	hold                           int    // the router's hold time in seconds; 0 is 3
	bfd                            bool   // the session goes down with its BFD session
}

var (
	proto4 = birdProto{name: "d4", local: "10.1.0.1", neighbor: "10.1.0.11", channel: "ipv4", asn: 65001}
	proto6 = birdProto{name: "d6", local: "2001:db8:1::1", neighbor: "2001:db8:1::11", channel: "ipv6", asn: 65001}
)

// startBird runs BIRD in the router's namespace with the protocols given.
// It exports what it learns to the namespace's kernel table, so that the
// test sees the next hop the router would forward to.
func (tp *topo) startBird(t *testing.T, protos ...birdProto) {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	fmt.Fprintf(&b, "router id 10.1.0.1;\nlog stderr all;\nprotocol device {}\n")
	fmt.Fprintf(&b, "protocol kernel { ipv4 { export all; }; }\nprotocol kernel { ipv6 { export all; }; }\n")
	for _, p := range protos {
		if p.bfd {
			// BIRD's default is 1 s; 100 ms x 3 notices a silent
			// director in 0.3 s.
			fmt.Fprintf(&b, "protocol bfd { interface \"*\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }\n")
			break
		}
	}
	for _, p := range protos {
		port := ""
		if p.port != 0 {
			port = fmt.Sprintf(" port %d", p.port)
		}
		fmt.Fprintf(&b, "protocol bgp %s {\n local %s%s as 65000;\n neighbor %s as %d;\n", p.name, p.local, port, p.neighbor, p.asn)
		// Short timers, so that sessions come up within the test's
		// patience; the speaker's side is what is tested.
		hold := 3
		if p.hold != 0 {
			hold = p.hold
		}
		fmt.Fprintf(&b, " hold time %d; keepalive time 1; connect delay time 1; connect retry time 2; error wait time 1, 2;\n", hold)
		if p.multihop {
			fmt.Fprintf(&b, " multihop;\n")
		}
		if p.bfd {
			fmt.Fprintf(&b, " bfd on;\n")
		}
		if p.password != "" {
			fmt.Fprintf(&b, " password %q;\n", p.password)
		}
		fmt.Fprintf(&b, " %s { import all; export none; };\n}\n", p.channel)
	}
	conf := filepath.Join(dir, "bird.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.sock = filepath.Join(dir, "bird.ctl")
	var logs syncBuffer
	cmd := exec.Command("ip", "netns", "exec", tp.router.Name, "bird", "-c", conf, "-s", tp.sock, "-f")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting bird: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("bird's log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := exec.Command("birdc", "-s", tp.sock, "show", "status").CombinedOutput(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bird did not answer on %s within 5s; its log:\n%s", tp.sock, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// birdc runs a BIRD command and returns its output.
func (tp *topo) birdc(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("birdc", append([]string{"-s", tp.sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("birdc %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// protoState is BIRD's state of protocol name: its "Info" column, e.g.
// "Established", "Active", "Connect".
func (tp *topo) protoState(t *testing.T, name string) string {
	t.Helper()
	for _, l := range strings.Split(tp.birdc(t, "show", "protocols", name), "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && f[0] == name {
			return f[5]
		}
	}
	return ""
}

// waitFor polls cond every 20 ms until it is true or timeout passed; it
// returns how long it took and whether cond came true.
func waitFor(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// speaker is the test binary running a bgp.Speaker in the director's
// namespace (helper_test.go).
type speaker struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	logs syncBuffer
}

func (tp *topo) startSpeaker(t *testing.T, nbs ...bgp.Neighbor) *speaker {
	t.Helper()
	c := bgp.Config{ASN: 65001, RouterID: a("10.1.0.11"), ListenPort: -1, Neighbors: nbs}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sp := &speaker{}
	sp.cmd = exec.Command("ip", "netns", "exec", tp.director.Name, exe)
	sp.cmd.Env = append(os.Environ(), helperEnv+"=1", configEnv+"="+string(js))
	sp.cmd.Stderr = &sp.logs
	if sp.in, err = sp.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := sp.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sp.out = bufio.NewScanner(stdout)
	sp.out.Buffer(nil, 1<<20)
	if err := sp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sp.in.Close()
		done := make(chan struct{})
		go func() { sp.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			sp.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("speaker's log:\n%s", sp.logs.String())
		}
	})
	if _, err := sp.reply(); err != nil {
		t.Fatalf("speaker did not start: %v\n%s", err, sp.logs.String())
	}
	return sp
}

func (sp *speaker) reply() (string, error) {
	if !sp.out.Scan() {
		return "", fmt.Errorf("speaker exited: %v", sp.out.Err())
	}
	l := sp.out.Text()
	if rest, ok := strings.CutPrefix(l, "err "); ok {
		return "", fmt.Errorf("%s", rest)
	}
	if l == "ok" {
		return "", nil
	}
	if rest, ok := strings.CutPrefix(l, "ok "); ok {
		return rest, nil
	}
	return "", fmt.Errorf("speaker said %q", l)
}

// do runs one helper command and fails t on an error.
func (sp *speaker) do(t *testing.T, cmd string) string {
	t.Helper()
	if _, err := fmt.Fprintln(sp.in, cmd); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	r, err := sp.reply()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	return r
}

func (sp *speaker) sessions(t *testing.T) map[string]bgp.Session {
	t.Helper()
	var ss []bgp.Session
	if err := json.Unmarshal([]byte(sp.do(t, "sessions")), &ss); err != nil {
		t.Fatal(err)
	}
	m := map[string]bgp.Session{}
	for _, s := range ss {
		m[s.Neighbor.String()] = s
	}
	return m
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
