package sysctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/internal/testfiles"
)

func testFS(t *testing.T, files map[string]string) FS {
	return FS{Root: testfiles.Write(t, files)}
}

func TestGetSet(t *testing.T) {
	f := testFS(t, map[string]string{
		"net/ipv4/conf/all/rp_filter":      "1\n",
		"net/ipv4/conf/eth0.100/rp_filter": "0\n",
	})
	v, err := f.Get("net.ipv4.conf.all.rp_filter")
	if err != nil || v != "1" {
		t.Fatalf("Get = %q, %v; want \"1\"", v, err)
	}
	if err := f.Set("net.ipv4.conf.all.rp_filter", "2"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(f.Root, "net/ipv4/conf/all/rp_filter"))
	if string(b) != "2\n" {
		t.Fatalf("file holds %q after Set, want \"2\\n\"", b)
	}
	// An interface name with a dot goes through the slash form.
	k := IPv4Conf("eth0.100", "rp_filter")
	if k != "net/ipv4/conf/eth0.100/rp_filter" {
		t.Fatalf("IPv4Conf = %q", k)
	}
	if v, err := f.Get(k); err != nil || v != "0" {
		t.Fatalf("Get(%s) = %q, %v", k, v, err)
	}
	if got := IPv4Conf("eth0", "arp_ignore"); got != "net.ipv4.conf.eth0.arp_ignore" {
		t.Fatalf("IPv4Conf = %q", got)
	}
}

func TestErrorsNameKeyAndValue(t *testing.T) {
	f := testFS(t, nil)
	_, err := f.Get("net.ipv4.conf.nope.rp_filter")
	if err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.nope.rp_filter") || !strings.Contains(err.Error(), "no such key") {
		t.Fatalf("Get of a missing key: %v", err)
	}
	err = f.Set("net.ipv4.conf.nope.rp_filter", "2")
	if err == nil || !strings.Contains(err.Error(), `net.ipv4.conf.nope.rp_filter to "2"`) {
		t.Fatalf("Set of a missing key: %v", err)
	}
	// Set must not create the key.
	if _, serr := os.Stat(filepath.Join(f.Root, "net/ipv4/conf/nope/rp_filter")); serr == nil {
		t.Fatal("Set created a missing key")
	}
	for _, bad := range []string{"", "net..ipv4", "../etc/passwd", "/net/x", "net/x/"} {
		if _, err := f.Get(bad); err == nil || !strings.Contains(err.Error(), "is not valid") {
			t.Errorf("Get(%q): want an invalid-name error, got %v", bad, err)
		}
	}
	f2 := testFS(t, map[string]string{"net/ipv4/ip_forward": "0\n"})
	if err := f2.Set("net.ipv4.ip_forward", "1\n2"); err == nil || !strings.Contains(err.Error(), "newline") {
		t.Fatalf("Set with a newline: %v", err)
	}
}

func TestDefaultRootIsProc(t *testing.T) {
	p, err := FS{}.path("net.ipv4.ip_forward")
	if err != nil || p != "/proc/sys/net/ipv4/ip_forward" {
		t.Fatalf("path = %q, %v", p, err)
	}
}
