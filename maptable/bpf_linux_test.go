package maptable

import (
	"errors"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/bpfdsr"
	"golang.org/x/sys/unix"
)

// The BPF table through Dial, on the kernel: the module's words for a
// missing and an existing key, Replace, Flush and Stats, and Dial back on
// the module once the backend is uninstalled.
func TestBPFTableKernel(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: loads a BPF program and mounts a bpffs")
	}
	dir := t.TempDir()
	if err := unix.Mount("bpf", dir, "bpf", 0, ""); err != nil {
		t.Fatalf("mounting a bpffs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, 0) })
	t.Setenv("L3DSR_BPFFS", dir)
	if b := BackendName(); b != "xt_DADDR" {
		t.Errorf("BackendName before Install: %q, want xt_DADDR", b)
	}
	bt, err := bpfdsr.Install()
	if err != nil {
		t.Fatal(err)
	}
	bt.Close()
	if b := BackendName(); b != "bpf" {
		t.Errorf("BackendName after Install: %q, want bpf", b)
	}
	t.Cleanup(func() { bpfdsr.Uninstall() })

	tab, err := Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if _, ok := tab.(*bpfTable); !ok {
		t.Fatalf("Dial gave %T, want the BPF table", tab)
	}
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	e := Entry{DSCP: 2, VIP: a}
	if err := tab.Add(e, false); err != nil {
		t.Fatal(err)
	}
	err = tab.Add(e, false)
	if !errors.Is(err, ErrExists) || err.Error() != "adding IPv4 DSCP 2 local any -> VIP 192.0.2.1: an entry with this key exists: use replace (NLM_F_REPLACE) to change its VIP or DSCP_SET (file exists)" {
		t.Errorf("second Add: %v", err)
	}
	err = tab.Delete(Key{Family: dsrtypes.IPv4, DSCP: 3})
	if !errors.Is(err, ErrNotFound) || err.Error() != "deleting IPv4 DSCP 3 local any: no entry with this key (no such entry)" {
		t.Errorf("Delete of a missing key: %v", err)
	}
	set := dsrtypes.DSCP(0)
	want := []Entry{
		{Family: dsrtypes.IPv4, DSCP: 5, VIP: a, SetDSCP: &set},
		{Family: dsrtypes.IPv4, AnyDSCP: true, Local: netip.MustParseAddr("10.9.0.1"), VIP: a},
		{Family: dsrtypes.IPv6, DSCP: 7, Local: netip.MustParseAddr("2001:db8:e::1"), VIP: b},
	}
	if err := tab.Replace(want); err != nil {
		t.Fatal(err)
	}
	got, err := tab.List()
	if err != nil || len(got) != 3 {
		t.Fatalf("List = %v, %v", got, err)
	}
	for _, w := range want {
		if !slices.ContainsFunc(got, func(g Entry) bool { return g.String() == w.String() }) {
			t.Errorf("List %v lacks %v", got, w)
		}
	}
	if st, err := tab.Stats(); err != nil || st.Entries != 3 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if err := tab.Flush(dsrtypes.IPv6); err != nil {
		t.Fatal(err)
	}
	if got, _ := tab.List(); len(got) != 2 {
		t.Errorf("after Flush(IPv6): %v", got)
	}
	if err := bpfdsr.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if b := BackendName(); b != "xt_DADDR" {
		t.Errorf("BackendName after Uninstall: %q, want xt_DADDR", b)
	}
	if mt, err := Dial(); err == nil {
		if _, ok := mt.(*bpfTable); ok {
			t.Errorf("Dial after Uninstall gave the BPF table")
		}
		mt.Close()
	}
}
