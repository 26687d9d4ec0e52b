package bpfdsr

import (
	"net"
	"net/netip"
	"testing"
	"time"

	xipv4 "golang.org/x/net/ipv4"
	xipv6 "golang.org/x/net/ipv6"
)

// needProgram skips while the embedded object is the contract's skeleton,
// which rewrites nothing: it does not read the present map.
func needProgram(t *testing.T) {
	t.Helper()
	spec, err := loadL3dsr()
	if err != nil {
		t.Fatal(err)
	}
	for _, ins := range spec.Programs[progName].Instructions {
		if ins.Reference() == pinPresent {
			return
		}
	}
	t.Skip("the embedded program is the skeleton of bpf/l3dsr.bpf.c (it rewrites nothing yet)")
}

// A datagram with the entry's DSCP, sent to the RIP from the peer, reaches
// a socket bound to the VIP on lo, and the entry counts it: tcx and
// clsact, IPv4 and IPv6.
func TestTraffic(t *testing.T) {
	for _, mode := range []string{modeTCX, modeClsact} {
		t.Run(mode, func(t *testing.T) {
			needRoot(t)
			needProgram(t)
			ns, peer := modeSetup(t, mode)
			run(t, "ip", "-n", ns, "addr", "add", "10.99.0.1/32", "dev", "lo")
			run(t, "ip", "-n", ns, "addr", "add", "fd00:99::1/128", "dev", "lo")
			tbl := install(t, ns)
			cases := []struct {
				key      Key
				vip, rip string
				dscp     int
			}{
				{Key{Family: 4, DSCP: 10, Local: tRIP4}, "10.99.0.1", "10.9.0.1", 10},
				{Key{Family: 6, DSCP: 12}, "fd00:99::1", "fd00:9::1", 12},
			}
			for _, c := range cases {
				if err := tbl.Put(c.key, Value{VIP: netip.MustParseAddr(c.vip), SetDSCP: 255}, false); err != nil {
					t.Fatal(err)
				}
			}
			inNS(t, ns, func() {
				if _, err := tbl.Attach("a0"); err != nil {
					t.Fatal(err)
				}
			})
			for _, c := range cases {
				var srv net.PacketConn
				inNS(t, ns, func() {
					var err error
					if srv, err = net.ListenPacket("udp", net.JoinHostPort(c.vip, "5000")); err != nil {
						t.Fatal(err)
					}
				})
				defer srv.Close()
				sendWithDSCP(t, peer, c.rip, c.dscp)
				srv.SetReadDeadline(time.Now().Add(2 * time.Second))
				buf := make([]byte, 64)
				n, from, err := srv.ReadFrom(buf)
				if err != nil || string(buf[:n]) != "dsr" {
					t.Fatalf("IPv%d: the socket on the VIP %s got %q from %v, err %v; want \"dsr\"", c.key.Family, c.vip, buf[:n], from, err)
				}
				v, err := tbl.Get(c.key)
				if err != nil {
					t.Fatal(err)
				}
				hdr := uint64(20)
				if c.key.Family == 6 {
					hdr = 40
				}
				if v.Packets != 1 || v.Bytes != hdr+8+3 {
					t.Fatalf("IPv%d: the entry counted %d packets, %d bytes; want 1, %d", c.key.Family, v.Packets, v.Bytes, hdr+8+3)
				}
			}
			tot, err := tbl.Totals()
			if err != nil || tot.Rewritten != 2 || tot.Errors != 0 {
				t.Fatalf("totals %+v %v: want 2 rewritten, no errors", tot, err)
			}
		})
	}
}

// sendWithDSCP sends "dsr" from ns to rip:5000 with the DSCP dscp.
func sendWithDSCP(t *testing.T, ns, rip string, dscp int) {
	t.Helper()
	inNS(t, ns, func() {
		c, err := net.ListenPacket("udp", ":0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		dst := netip.MustParseAddr(rip)
		if dst.Is4() {
			err = xipv4.NewPacketConn(c).SetTOS(dscp << 2)
		} else {
			err = xipv6.NewPacketConn(c).SetTrafficClass(dscp << 2)
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.WriteTo([]byte("dsr"), net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 5000))); err != nil {
			t.Fatal(err)
		}
	})
}
