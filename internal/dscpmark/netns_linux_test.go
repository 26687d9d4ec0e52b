//go:build linux

package dscpmark

import (
	"encoding/binary"
	"fmt"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/nstest"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// testNS is a named network namespace (so that nft, iptables and ip can
// be run in it with `ip netns exec`), deleted when the test ends. The
// integration tests run against the kernel's nf_tables in namespaces of
// their own.
type testNS struct {
	t    *testing.T
	name string
	fd   int
}

func newNS(t *testing.T) *testNS {
	t.Helper()
	ns := nstest.New(t, "l3dsr-dm", "root, nf_tables")
	return &testNS{t: t, name: ns.Name, fd: ns.FD}
}

// out runs a command in the namespace and returns its output and error.
func (ns *testNS) out(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, args...)...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// run runs a command in the namespace; a failure ends the test.
func (ns *testNS) run(args ...string) string {
	ns.t.Helper()
	s, err := ns.out(args...)
	if err != nil {
		ns.t.Fatalf("in %s: %s: %v: %s", ns.name, strings.Join(args, " "), err, s)
	}
	return s
}

// nft runs nft with a script on stdin.
func (ns *testNS) nft(script string) {
	ns.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns.name, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if b, err := cmd.CombinedOutput(); err != nil {
		ns.t.Fatalf("in %s: nft -f - <<%q: %v: %s", ns.name, script, err, b)
	}
}

func (ns *testNS) marker() *marker {
	ns.t.Helper()
	m, err := newInNetNS(ns.fd)
	if err != nil {
		ns.t.Fatal(err)
	}
	return m
}

// do runs f on an OS thread that has joined the namespace. The thread is
// never handed back to the Go scheduler, so nothing else runs in it.
func (ns *testNS) do(f func() error) error {
	ch := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Setns(ns.fd, unix.CLONE_NEWNET); err != nil {
			ch <- fmt.Errorf("setns %s: %w", ns.name, err)
			return
		}
		ch <- f()
	}()
	return <-ch
}

// genID returns nf_tables' generation counter of the namespace: every
// committed batch moves it, so an unchanged value proves no batch was
// applied.
func (ns *testNS) genID() uint32 {
	ns.t.Helper()
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: ns.fd})
	if err != nil {
		ns.t.Fatalf("netlink dial: %v", err)
	}
	defer c.Close()
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0},
	})
	if err != nil {
		ns.t.Fatalf("NFT_MSG_GETGEN: %v", err)
	}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			ns.t.Fatal(err)
		}
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return binary.BigEndian.Uint32(ad.Bytes())
			}
		}
	}
	ns.t.Fatalf("NFT_MSG_GETGEN: no NFTA_GEN_ID in %d messages", len(msgs))
	return 0
}
