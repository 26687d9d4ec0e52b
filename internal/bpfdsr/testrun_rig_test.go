package bpfdsr

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/cilium/ebpf"
)

// Return values of a tc program (linux/pkt_cls.h).
const (
	tcActUnspec = 0xffffffff // -1: the next program or filter runs
	tcActShot   = 2
)

// bpfFTestSkbChecksumComplete is BPF_F_TEST_SKB_CHECKSUM_COMPLETE of
// include/uapi/linux/bpf.h (6.12+): the kernel sums the input into skb->csum,
// and after the run fails it with EBADMSG when skb->csum no longer matches.
const bpfFTestSkbChecksumComplete = 1 << 2

// rig is the program loaded with fresh maps, filled by the test itself
// (the loader of this package is not under test here).
type rig struct {
	t     *testing.T
	objs  l3dsrObjects
	inner *ebpf.Map
}

// needRoot is env_test.go's.

// newRig loads the committed object; noIPv6Flag makes the program act as on
// a kernel without BPF_F_IPV6.
func newRig(t *testing.T, noIPv6Flag bool) *rig {
	t.Helper()
	needRoot(t)
	spec, err := loadL3dsr()
	if err != nil {
		t.Fatalf("loadL3dsr: %v", err)
	}
	if noIPv6Flag {
		if err := spec.Variables["l3dsr_no_ipv6_flag"].Set(uint8(1)); err != nil {
			t.Fatalf("set l3dsr_no_ipv6_flag: %v", err)
		}
	}
	r := &rig{t: t}
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			t.Fatalf("verifier rejected the program: %+v", ve)
		}
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { r.objs.Close() })
	r.inner, err = ebpf.NewMap(spec.Maps["tables"].InnerMap)
	if err != nil {
		t.Fatalf("inner table: %v", err)
	}
	t.Cleanup(func() { r.inner.Close() })
	if err := r.objs.Tables.Put(uint32(0), r.inner); err != nil {
		t.Fatalf("tables[0]: %v", err)
	}
	return r
}

func key(dscp uint8, local string) l3dsrL3dsrKey {
	k := l3dsrL3dsrKey{Dscp: dscp}
	if local == "" {
		return k
	}
	a := netip.MustParseAddr(local)
	k.Family = 6
	if a.Is4() {
		k.Family = 4
	}
	copy(k.Local[:], a.AsSlice())
	return k
}

// add puts an entry and keeps the present filter a superset, as the loader
// does. family is needed for entries with any local address.
func (r *rig) add(family uint8, k l3dsrL3dsrKey, vip string, setDSCP uint8) {
	r.t.Helper()
	k.Family = family
	v := l3dsrL3dsrVal{SetDscp: setDSCP}
	copy(v.Vip[:], netip.MustParseAddr(vip).AsSlice())
	vals := make([]l3dsrL3dsrVal, ebpf.MustPossibleCPU())
	for i := range vals {
		vals[i] = v
	}
	if err := r.inner.Put(k, vals); err != nil {
		r.t.Fatalf("put %+v: %v", k, err)
	}
	idx := uint32(0)
	if family == 6 {
		idx = 1
	}
	var p l3dsrL3dsrPresent
	if err := r.objs.Present.Lookup(idx, &p); err != nil {
		r.t.Fatalf("present[%d]: %v", idx, err)
	}
	if k.Dscp == 255 {
		p.AnyDscp = 1
	} else {
		p.Codes |= 1 << k.Dscp
	}
	if err := r.objs.Present.Put(idx, p); err != nil {
		r.t.Fatalf("present[%d]: %v", idx, err)
	}
}

// run hands pkt to the program and returns its verdict and the packet after.
func (r *rig) run(pkt []byte, flags uint32) (uint32, []byte, error) {
	out := make([]byte, len(pkt)+256)
	opts := ebpf.RunOptions{Data: pkt, DataOut: out, Flags: flags}
	ret, err := r.objs.L3dsrIngress.Run(&opts)
	return ret, opts.DataOut, err
}

// mustRun expects the verdict TC_ACT_UNSPEC.
func (r *rig) mustRun(pkt []byte) []byte {
	r.t.Helper()
	ret, out, err := r.run(pkt, 0)
	if err != nil {
		r.t.Fatalf("run: %v", err)
	}
	if ret != tcActUnspec {
		r.t.Fatalf("verdict %#x, want TC_ACT_UNSPEC", ret)
	}
	return out
}

func (r *rig) totals() l3dsrL3dsrTotals {
	r.t.Helper()
	s, err := sumTotals(r.objs.Totals)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// counters sums an entry's per-CPU packets and bytes.
func (r *rig) counters(family uint8, k l3dsrL3dsrKey) (packets, bytes uint64) {
	r.t.Helper()
	k.Family = family
	var per []l3dsrL3dsrVal
	if err := r.inner.Lookup(k, &per); err != nil {
		r.t.Fatalf("lookup %+v: %v", k, err)
	}
	for _, v := range per {
		packets += v.Packets
		bytes += v.Bytes
	}
	return packets, bytes
}

func (r *rig) wantTotals(want l3dsrL3dsrTotals) {
	r.t.Helper()
	if got := r.totals(); got != want {
		r.t.Errorf("totals %+v, want %+v", got, want)
	}
}
