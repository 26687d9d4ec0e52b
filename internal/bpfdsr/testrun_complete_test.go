package bpfdsr

import (
	"errors"
	"syscall"
	"testing"
)

// runComplete runs pkt as a CHECKSUM_COMPLETE skb: the kernel fails the run
// (EBADMSG) when skb->csum no longer sums the packet. Skips where the
// kernel has no BPF_F_TEST_SKB_CHECKSUM_COMPLETE.
func runComplete(t *testing.T, r *rig, pkt []byte) []byte {
	t.Helper()
	ret, out, err := r.run(pkt, bpfFTestSkbChecksumComplete)
	if errors.Is(err, syscall.EINVAL) {
		t.Skipf("this kernel lacks BPF_F_TEST_SKB_CHECKSUM_COMPLETE (Debian's 6.1 and 6.12 have it): %v", err)
	}
	if err != nil {
		t.Fatalf("CHECKSUM_COMPLETE run: skb->csum went wrong: %v", err)
	}
	if ret != tcActUnspec {
		t.Fatalf("verdict %#x, want TC_ACT_UNSPEC", ret)
	}
	return out
}

func TestRunCompleteIPv4(t *testing.T) {
	r := newRig(t, false)
	r.add(4, key(10, rip4.String()), vip4.String(), 46)
	for _, proto := range []uint8{protoTCP, protoUDP, protoICMP} {
		seg := segment(client4, rip4, proto, []byte("complete"))
		rewritten4(t, proto, runComplete(t, r, ipv4(10<<2, proto, client4, rip4, 0, seg)))
	}
	out := runComplete(t, r, ipv4(10<<2, protoTCP, client4, rip4, 100, []byte("later fragment")))
	if dst4(out) != vip4 || !ipv4OK(out) {
		t.Errorf("later fragment: daddr %v, header ok %v", dst4(out), ipv4OK(out))
	}
}

// Both ways of keeping skb->csum right (see l3dsr_rewrite6): BPF_F_IPV6
// where the kernel has it, and the fallback that older kernels take.
func TestRunCompleteIPv6(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noIPv6Flag bool
	}{{"BPF_F_IPV6", false}, {"fallback", true}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, tc.noIPv6Flag)
			r.add(6, key(10, rip6.String()), vip6.String(), 255)
			r.add(6, key(12, rip6.String()), vip6.String(), 46)
			for _, proto := range []uint8{protoTCP, protoUDP, protoUDPLite, protoICMPv6} {
				seg := segment(client6, rip6, proto, []byte("complete"))
				rewritten6(t, proto, runComplete(t, r, ipv6(10<<2, proto, client6, rip6, seg)), 0)
			}
			// No L4 checksum to fix: UDP without one, a later fragment.
			seg := segment(client6, rip6, protoUDP, []byte("absent"))
			be.PutUint16(seg[6:], 0)
			runComplete(t, r, ipv6(10<<2, protoUDP, client6, rip6, seg))
			seg = segment(client6, rip6, protoTCP, []byte("later"))
			runComplete(t, r, ipv6(10<<2, 44, client6, rip6, append(frag6(protoTCP, 100, false), seg...)))
			// set_dscp: the first word changes too.
			seg = segment(client6, rip6, protoTCP, []byte("ef"))
			rewritten6(t, protoTCP, runComplete(t, r, ipv6(12<<2, protoTCP, client6, rip6, seg)), 0)
			r.wantTotals(l3dsrL3dsrTotals{Rewritten: 7})
		})
	}
}
