package config

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/director"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// roundTrips is how many random directors TestSaveRoundTrip tries;
// L3DSR_ROUNDTRIPS sets more for a long run.
func roundTrips(t *testing.T) int {
	if s := os.Getenv("L3DSR_ROUNDTRIPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("L3DSR_ROUNDTRIPS=%q: %v", s, err)
		}
		return n
	}
	return 3000
}

// randomDirector is a director as Show reads it, made of every attribute
// save writes and apply sets: l3dsr's services and ipvsadm's (untagged,
// their mode from their reals), both families, every mode, scheduler flags,
// persistence with netmasks, one-packet, thresholds, weights, tunnel types,
// ports and checksums, and local reals.
func randomDirector(r *rand.Rand) []director.Service {
	var svcs []director.Service
	seen := map[director.Key]bool{}
	for i := range r.IntN(6) + 1 {
		v6 := r.IntN(2) == 0
		vip := netip.AddrFrom4([4]byte{10, 9, 0, byte(i + 1)})
		if v6 {
			vip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 9, 15: byte(i + 1)})
		}
		k := director.Key{VIP: vip, Port: uint16(r.IntN(65535) + 1), Proto: []ipvs.Protocol{ipvs.ProtoTCP, ipvs.ProtoUDP, ipvs.ProtoSCTP}[r.IntN(3)]}
		if seen[k] {
			continue
		}
		seen[k] = true
		s := director.Service{Key: k, Mode: modes[r.IntN(len(modes))], Managed: r.IntN(2) == 0}
		if s.Mode == dsrtypes.ModeDSCP {
			// One code per VIP, as no real server can take one code for two.
			s.DSCP, s.Managed = uint8(i+2), true
		}
		if s.Mode == dsrtypes.ModeAddr {
			// Only its tag says addr: untagged it is nat.
			s.Managed = true
		}
		s.Scheduler = []string{"wlc", "rr", "wrr", "lc", "sh", "mh", "sed"}[r.IntN(7)]
		s.SchedFlags = director.SchedFlags(r.IntN(8))
		if r.IntN(2) == 0 {
			s.Persistent = uint32(r.IntN(86400) + 1)
		}
		if r.IntN(3) == 0 {
			s.Netmask = randomNetmask(r, vip)
		}
		s.OnePacket = k.Proto == ipvs.ProtoUDP && r.IntN(2) == 0
		n := r.IntN(4)
		if !s.Managed {
			n++ // an untagged service without reals has no mode (none): save refuses it
		}
		for j := range n {
			s.Reals = append(s.Reals, randomReal(r, s, j))
		}
		svcs = append(svcs, s)
	}
	return svcs
}

var modes = []dsrtypes.Mode{dsrtypes.ModeDSCP, dsrtypes.ModeAddr, dsrtypes.ModeIPIP, dsrtypes.ModeDR, dsrtypes.ModeNAT}

func randomNetmask(r *rand.Rand, vip netip.Addr) uint32 {
	if vip.Is6() {
		return uint32(r.IntN(127) + 1)
	}
	if r.IntN(4) == 0 {
		return r.Uint32()>>1 | 1<<31 // not a prefix: ipvsadm -M takes any mask
	}
	return ^uint32(0) << (r.IntN(31) + 1)
}

func randomReal(r *rand.Rand, s director.Service, j int) director.Real {
	a := s.VIP.As16()
	a[13], a[15] = 1, byte(j+10)
	addr := netip.AddrFrom16(a)
	if s.VIP.Is4() {
		addr = netip.AddrFrom4([4]byte{192, 0, 2, byte(j + 10)})
	}
	if s.Mode == dsrtypes.ModeAddr {
		// Each VIP's reals are its own addresses on the real servers: one
		// address stands for one VIP.
		v := s.VIP.As16()
		a[13], a[14] = 2, v[15]
		addr = netip.AddrFrom16(a)
		if s.VIP.Is4() {
			addr = netip.AddrFrom4([4]byte{192, 0, 3, v[15]*8 + byte(j)})
		}
	}
	rl := director.Real{Addr: addr, Weight: int32(r.IntN(65536)), Forward: director.Forward(s.Mode)}
	if r.IntN(3) == 0 {
		rl.UpperThreshold = uint32(r.IntN(1000) + 1)
		rl.LowerThreshold = uint32(r.IntN(int(rl.UpperThreshold) + 1))
	}
	if s.Mode == dsrtypes.ModeIPIP {
		rl.Tunnel = []ipvs.TunnelType{ipvs.TunnelIPIP, ipvs.TunnelGUE, ipvs.TunnelGRE}[r.IntN(3)]
		if rl.Tunnel == ipvs.TunnelGUE {
			rl.TunnelPort = uint16(r.IntN(65535) + 1)
		}
		if rl.Tunnel != ipvs.TunnelIPIP {
			rl.TunnelFlags = []uint16{0, ipvs.TunnelFlagChecksum, ipvs.TunnelFlagRemoteChecksum}[r.IntN(3)]
		}
	}
	if s.Managed && r.IntN(8) == 0 {
		// A real at an address of the director: the kernel makes it local,
		// whatever method was asked.
		rl.Forward, rl.Tunnel, rl.TunnelPort, rl.TunnelFlags = ipvs.Local, 0, 0, 0
	}
	return rl
}

// mutation changes one attribute of a running director and names the word
// apply's plan must then say.
type mutation struct {
	name  string
	apply func(r *rand.Rand, s *director.Service) bool // false: not for this service
}

var mutations = []mutation{
	{"scheduler", func(_ *rand.Rand, s *director.Service) bool {
		// Another scheduler renames the flags: keep them off for this one.
		if s.SchedFlags != 0 {
			return false
		}
		s.Scheduler = map[bool]string{true: "rr", false: "wlc"}[s.Scheduler != "rr"]
		return true
	}},
	{"scheduler_flags", func(r *rand.Rand, s *director.Service) bool {
		s.SchedFlags ^= 1 << r.IntN(3)
		return true
	}},
	{"persistent", func(_ *rand.Rand, s *director.Service) bool { s.Persistent++; return true }},
	{"persistence_netmask", func(r *rand.Rand, s *director.Service) bool {
		old := s.Netmask
		for s.Netmask == old {
			s.Netmask = randomNetmask(r, s.VIP)
		}
		return true
	}},
	{"ops", func(_ *rand.Rand, s *director.Service) bool {
		if s.Proto != ipvs.ProtoUDP {
			return false
		}
		s.OnePacket = !s.OnePacket
		return true
	}},
	{"persistence engine", func(_ *rand.Rand, s *director.Service) bool { s.PE = "sip"; return true }},
	{"dscp", func(_ *rand.Rand, s *director.Service) bool {
		if s.Mode != dsrtypes.ModeDSCP {
			return false
		}
		s.DSCP = 63 - s.DSCP
		return true
	}},
	{"weight", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool { rl.Weight = (rl.Weight + 1) % 65536; return true })
	}},
	{"upper_threshold", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool { rl.UpperThreshold++; return true })
	}},
	{"lower_threshold", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool { rl.LowerThreshold++; return true })
	}},
	{"forwarding", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool {
			if rl.Forward == ipvs.Local || rl.Forward == ipvs.Tunnel {
				return false // tunnel -> other drops the tunnel settings too: its own case below
			}
			rl.Forward = map[bool]ipvs.ForwardMethod{true: ipvs.Route, false: ipvs.Masquerade}[rl.Forward != ipvs.Route]
			return true
		})
	}},
	{"tunnel", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool {
			if rl.Forward != ipvs.Tunnel || rl.Tunnel != ipvs.TunnelGRE {
				return false
			}
			rl.Tunnel = ipvs.TunnelIPIP
			rl.TunnelFlags = 0
			return true
		})
	}},
	{"tunnel_port", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool {
			if rl.Tunnel != ipvs.TunnelGUE {
				return false
			}
			rl.TunnelPort = rl.TunnelPort%65535 + 1
			return true
		})
	}},
	{"tunnel_checksum", func(r *rand.Rand, s *director.Service) bool {
		return onReal(r, s, func(rl *director.Real) bool {
			if rl.Forward != ipvs.Tunnel || rl.Tunnel == ipvs.TunnelIPIP {
				return false
			}
			rl.TunnelFlags = map[bool]uint16{true: 0, false: ipvs.TunnelFlagChecksum}[rl.TunnelFlags != 0]
			return true
		})
	}},
	{"delete real", func(r *rand.Rand, s *director.Service) bool {
		// A real added by hand: apply takes it out.
		a := s.VIP.As16()
		a[13], a[15] = 2, 99
		addr := netip.AddrFrom16(a)
		if s.VIP.Is4() {
			addr = netip.AddrFrom4([4]byte{198, 51, 100, 99})
		}
		s.Reals = append(s.Reals, director.Real{Addr: addr, Weight: 1, Forward: director.Forward(s.Mode)})
		return true
	}},
}

// onReal mutates one of s's reals with m, trying each until one takes it.
func onReal(r *rand.Rand, s *director.Service, m func(*director.Real) bool) bool {
	off := r.IntN(len(s.Reals) + 1)
	for i := range s.Reals {
		if m(&s.Reals[(i+off)%len(s.Reals)]) {
			return true
		}
	}
	return false
}

func clone(svcs []director.Service) []director.Service {
	out := make([]director.Service, len(svcs))
	for i, s := range svcs {
		s.Reals = append([]director.Real(nil), s.Reals...)
		out[i] = s
	}
	return out
}

// TestSaveRoundTrip is the property that save never writes a file that
// apply would turn into something else: for random directors, the saved
// file plans nothing against the state it was saved from; and against that
// state with any one attribute changed by hand, the plan names the
// attribute. The seed of a failure is in its message.
func TestSaveRoundTrip(t *testing.T) {
	n := roundTrips(t)
	hits := map[string]int{}
	for i := range n {
		seed := uint64(i)
		r := rand.New(rand.NewPCG(seed, 24))
		state := randomDirector(r)
		f := fromRunning(nil, state)
		if err := checkRebuilds(f, state); err != nil {
			t.Fatalf("seed %d: save refused %s: %v", seed, describe(state), err)
		}
		back, out, err := readBack(f)
		if err != nil {
			t.Fatalf("seed %d: the saved file does not read back: %v\n%s", seed, err, out)
		}
		if steps := planDirector(back.director, state, nil); len(steps) > 0 {
			t.Fatalf("seed %d: apply of the saved file against the state it was saved from plans %q\n%s", seed, whats(steps), out)
		}
		m := mutations[r.IntN(len(mutations))]
		changed := clone(state)
		s := &changed[r.IntN(len(changed))]
		if !m.apply(r, s) {
			continue
		}
		hits[m.name]++
		steps := whats(planDirector(back.director, changed, nil))
		if !strings.Contains(steps, m.name) {
			t.Fatalf("seed %d: %s changed on %s: the plan %q does not name it\n%s", seed, m.name, s.Key, steps, out)
		}
	}
	for _, m := range mutations {
		if hits[m.name] == 0 {
			t.Errorf("no run changed %s: the generator never makes a service it applies to", m.name)
		}
	}
	t.Logf("%d directors saved and planned back; one attribute changed by hand: %v", n, hits)
}

func describe(svcs []director.Service) string {
	var b strings.Builder
	for _, s := range svcs {
		fmt.Fprintf(&b, "\n  %s %s managed=%v %+v", s.Key, s.Mode, s.Managed, s.Reals)
	}
	return b.String()
}

// Save refuses what the file has no words for, naming the service and the
// attribute, with exit status 1 (a runtime error, not a usage one).
func TestSaveRefuses(t *testing.T) {
	k := director.Key{VIP: netip.MustParseAddr("10.9.0.1"), Port: 80, Proto: ipvs.ProtoTCP}
	rs := func(f ...ipvs.ForwardMethod) []director.Real {
		var out []director.Real
		for i, m := range f {
			out = append(out, director.Real{Addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}), Weight: 1, Forward: m})
		}
		return out
	}
	for _, c := range []struct {
		name string
		s    director.Service
		want string
	}{
		{"mixed", director.Service{Key: k, Mode: "mixed", Scheduler: "wlc", Reals: rs(ipvs.Masquerade, ipvs.Route)},
			"service tcp 10.9.0.1:80: its mode is mixed (reals 192.0.2.1 masq, 192.0.2.2 route), which the config file has no word for"},
		{"none", director.Service{Key: k, Mode: "none", Scheduler: "wlc"},
			"service tcp 10.9.0.1:80: its mode is none (no real server to read a forwarding method from)"},
		{"pe", director.Service{Key: k, Mode: dsrtypes.ModeNAT, Scheduler: "wlc", Persistent: 60, PE: "sip", Reals: rs(ipvs.Masquerade)},
			"service tcp 10.9.0.1:80: persistence engine sip (ipvsadm --pe) is not in the config file's words"},
		{"real port", director.Service{Key: k, Mode: dsrtypes.ModeNAT, Scheduler: "wlc",
			Reals: []director.Real{{Addr: netip.MustParseAddr("192.0.2.1"), Port: 8080, Weight: 1, Forward: ipvs.Masquerade}}},
			"service tcp 10.9.0.1:80: real server 192.0.2.1 listens on port 8080, and the config file gives a real the service's port (80)"},
		{"ops on tcp", director.Service{Key: k, Mode: dsrtypes.ModeNAT, Scheduler: "wlc", OnePacket: true, Reals: rs(ipvs.Masquerade)},
			"the file does not read back"},
	} {
		f := fromRunning(nil, []director.Service{c.s})
		err := checkRebuilds(f, []director.Service{c.s})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v\nwant it to contain %q", c.name, err, c.want)
		}
	}
}
