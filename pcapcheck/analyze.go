package pcapcheck

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/l3dsr/l3dsr/dsrtypes"
)

// Role is where verify runs.
type Role int

const (
	// roleRealServer: marked requests arrive for the RIP; the replies must
	// leave from the VIP the module maps the code to.
	roleRealServer Role = iota
	// roleDirector: packets for a VIP leave for the real servers carrying the
	// DSCP configured for that VIP.
	roleDirector
)

func (r Role) String() string {
	if r == roleDirector {
		return "director"
	}
	return "realserver"
}

// MapEntry is one entry of the real server's DSCP→VIP table (as
// maptable.Entry), with the module's counters when known.
type MapEntry struct {
	DSCP uint8
	// AnyDSCP: the entry matches every code (addr mode), for packets to
	// Local, the VIP's own address on this server (its RIP); DSCP is
	// then unused.
	AnyDSCP bool
	// Local limits the entry to packets for this local address; the zero
	// Addr means any.
	Local   netip.Addr
	VIP     netip.Addr
	Packets uint64
	Bytes   uint64
}

// Expectation is what a director must do for one service: mark the
// packets it sends to the real servers with DSCP.
type Expectation struct {
	VIP  netip.Addr
	Port uint16 // 0: any port
	DSCP uint8
}

func (e Expectation) String() string {
	s := e.VIP.String()
	if e.VIP.Is6() {
		s = "[" + s + "]"
	}
	if e.Port != 0 {
		return fmt.Sprintf("%s:%d", s, e.Port)
	}
	return s
}

// config is what the verdict is judged against.
type config struct {
	Role Role
	// Mode is how the director reaches the real servers ("": dscp).
	Mode dsrtypes.Mode
	// Codes are the DSCP codes to look at (the codes reserved for L3 DSR).
	Codes DSCPSet
	// Mapping is the real server's table (roleRealServer).
	Mapping []MapEntry
	// Expect is the director's DSCP per VIP (roleDirector).
	Expect []Expectation
	// Ports are the real server's service ports (--port), if given: a
	// packet to one of them with a code outside the set is unmarked.
	Ports []uint16
	// maxFlows bounds the flows tracked (0: defaultMaxFlows); packets of
	// flows beyond it are counted but their replies are not matched.
	maxFlows int
}

// defaultMaxFlows is the number of flows an analyzer tracks by default.
const defaultMaxFlows = 1 << 20

// initialFlows sizes the flow table up front: growing it step by step
// from empty costs more than the memory does.
const initialFlows = 1 << 14

// Class is what an analyzer made of one packet.
type Class uint8

const (
	ignored          Class = iota // not IP, or not relevant to the verdict
	marked                        // carries a DSCP code of the set
	unmapped                      // carries a code the table has no VIP for
	replyFromVIP                  // a reply to a marked flow, from its VIP
	replyFromRIP                  // a reply to a marked flow, from the RIP it was sent to
	replyOther                    // a reply to a marked flow, from another address
	toVIP                         // director: a client's packet for a VIP
	forwardedOK                   // director: sent to a real server with the VIP's DSCP
	forwardedWrong                // director: sent to a real server with another DSCP
	replyViaDirector              // director: a reply from the VIP leaving the director
	malformedPacket               // a malformed IP packet, counted apart
	tunneled                      // ipip: a tunnel packet to the RIP, its inner header for a VIP
)

var classNames = [...]string{"ignored", "marked", "unmapped", "reply-from-vip", "reply-from-rip", "reply-other", "to-vip", "forwarded-ok", "forwarded-wrong-dscp", "reply-via-director", "malformed", "tunneled"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

type mapKey struct {
	fam   uint8
	code  uint8 // anyCode for an any-DSCP entry
	local netip.Addr
}

// anyCode is an any-DSCP entry's code in a mapKey (L3DSR_DSCP_ANY).
const anyCode = 255

func keyOfEntry(e MapEntry) mapKey {
	if e.AnyDSCP {
		return mapKey{famOf(e.VIP), anyCode, e.Local}
	}
	return mapKey{famOf(e.VIP), e.DSCP, e.Local}
}

type codeState struct {
	packets, bytes   uint64
	flows, answered  int
	unmapped         uint64
	unmappedDst      map[netip.Addr]bool
	fromVIP, fromRIP uint64
	fromOther        uint64
	ripSources       map[netip.Addr]bool
	otherSources     map[netip.Addr]bool
	vips             map[netip.Addr]bool
	// unmappedFam has bit 4 or 6 set for the families of unmapped packets.
	unmappedFam uint8
	// laterFrags: non-first fragments (no ports, so no flow); noPorts:
	// packets cut before their ports.
	laterFrags, noPorts uint64
	// tunnels: tunnel packets counted under this (outer) code; innerDiff
	// counts them by inner DSCP when it differs from the outer one.
	tunnels   uint64
	innerDiff map[uint8]uint64
	notVIP    map[netip.Addr]bool // ipip: inner destinations that are no VIP
	// anyUsed are the any-DSCP entries this code's packets were mapped by.
	anyUsed map[int]bool
}

type expState struct {
	clientPackets, forwarded, right, wrong, viaDirector uint64
	wrongCodes                                          map[uint8]uint64
	reals                                               map[netip.Addr]bool
}

// analyzer judges a stream of decoded packets. Add each packet, then
// Report. Not safe for concurrent use.
type analyzer struct {
	cfg config
	// ipip is cfg.Mode == ModeIPIP, addr cfg.Mode == ModeAddr, tested
	// per packet.
	ipip, addr bool
	// anyAt are the any-DSCP entries by local address: in addr mode the
	// RIPs, whose packets count whatever their code.
	anyAt map[netip.Addr]int
	// ripAt are the local addresses of the code entries (dscp mode), and
	// unmarked counts the packets that reached one of them, or a --port,
	// with a code outside the set, by address and by code: a router that
	// re-marks DSCP leaves only those.
	ripAt         map[netip.Addr]bool
	ports         map[uint16]bool
	unmarked      map[netip.Addr]uint64
	unmarkedCodes map[uint8]uint64
	mapIdx        map[mapKey]int
	// byCode lists the table's entries by family (0: IPv4, 1: IPv6) and
	// code, for lookup without hashing; used marks the entries packets
	// were mapped by (their VIPs are the code's).
	byCode    [2][maxDSCP + 1][]int32
	used      []bool
	start     []MapEntry
	codes     [maxDSCP + 1]*codeState
	flows     flowTable
	maxFlows  int
	packets   uint64
	ipPackets uint64
	untracked uint64
	malformed map[string]uint64
	// tunnelsOff: tunnel packets outside the code set whose inner code is
	// in it (DSCP mode): by outer and inner code.
	tunnelsOff map[[2]uint8]uint64
	// director
	byVIP   map[netip.Addr][]int
	clients map[flowKey]int
	exp     []expState
}

// newAnalyzer checks cfg and returns an analyzer for it.
func newAnalyzer(cfg config) (*analyzer, error) {
	a := &analyzer{cfg: cfg, mapIdx: map[mapKey]int{}, flows: newFlowTable(), maxFlows: cfg.maxFlows,
		byVIP: map[netip.Addr][]int{}, clients: map[flowKey]int{}, malformed: map[string]uint64{}, tunnelsOff: map[[2]uint8]uint64{},
		anyAt: map[netip.Addr]int{}, ripAt: map[netip.Addr]bool{}, ports: map[uint16]bool{},
		unmarked: map[netip.Addr]uint64{}, unmarkedCodes: map[uint8]uint64{}}
	for _, p := range cfg.Ports {
		a.ports[p] = true
	}
	if a.maxFlows <= 0 {
		a.maxFlows = defaultMaxFlows
	}
	switch cfg.Mode {
	case "":
		a.cfg.Mode = dsrtypes.ModeDSCP
	case dsrtypes.ModeDSCP:
	case dsrtypes.ModeIPIP:
		a.ipip = true
	case dsrtypes.ModeAddr:
		a.addr = true
		if cfg.Role == roleDirector {
			return nil, fmt.Errorf("mode addr marks nothing on the director, so there is no code to check there: verify an addr-mode VIP on its real server (--role realserver)")
		}
	case dsrtypes.ModeDR:
		return nil, fmt.Errorf("mode dr (L2 DSR) is not supported by the capture check yet: use dscp or ipip")
	case dsrtypes.ModeNAT:
		return nil, fmt.Errorf("mode nat (plain LVS-NAT) is not supported by the capture check: use dscp or ipip")
	default:
		return nil, fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	for i, e := range cfg.Mapping {
		if e.AnyDSCP {
			if err := a.addAny(i, e); err != nil {
				return nil, err
			}
			continue
		}
		if e.DSCP > maxDSCP {
			return nil, fmt.Errorf("mapping DSCP %d is out of range: use 0-%d", e.DSCP, maxDSCP)
		}
		if !e.VIP.IsValid() {
			return nil, fmt.Errorf("the mapping of DSCP %d has no VIP", e.DSCP)
		}
		if e.Local.IsValid() && e.Local.Is4() != e.VIP.Is4() {
			return nil, fmt.Errorf("the mapping of DSCP %d mixes families: VIP %s, local address %s", e.DSCP, e.VIP, e.Local)
		}
		k := keyOfEntry(e)
		if j, dup := a.mapIdx[k]; dup {
			return nil, fmt.Errorf("DSCP %d (local %s) is mapped twice: to %s and %s", e.DSCP, localName(e.Local), cfg.Mapping[j].VIP, e.VIP)
		}
		a.mapIdx[k] = i
		f := 0
		if e.VIP.Is6() {
			f = 1
		}
		a.byCode[f][e.DSCP] = append(a.byCode[f][e.DSCP], int32(i))
		if e.Local.IsValid() {
			a.ripAt[e.Local] = true
		}
	}
	a.used = make([]bool, len(cfg.Mapping))
	a.start = slices.Clone(cfg.Mapping)
	switch cfg.Role {
	case roleRealServer:
		if cfg.Codes == 0 {
			return nil, fmt.Errorf("no DSCP code to look at: give at least one")
		}
	case roleDirector:
		if len(cfg.Expect) == 0 {
			return nil, fmt.Errorf("the director check needs the DSCP of at least one VIP")
		}
		seen := map[Expectation]bool{}
		for i, e := range cfg.Expect {
			if !e.VIP.IsValid() || e.DSCP > maxDSCP {
				return nil, fmt.Errorf("expectation %d: a VIP and a DSCP 0-%d are required", i+1, maxDSCP)
			}
			k := Expectation{VIP: e.VIP, Port: e.Port}
			if seen[k] {
				return nil, fmt.Errorf("%s is given twice", k)
			}
			seen[k] = true
			a.byVIP[e.VIP] = append(a.byVIP[e.VIP], i)
		}
		a.exp = make([]expState, len(cfg.Expect))
	default:
		return nil, fmt.Errorf("unknown role %d", cfg.Role)
	}
	return a, nil
}

// addAny takes the any-DSCP entry e, the i-th of the mapping.
func (a *analyzer) addAny(i int, e MapEntry) error {
	if !e.VIP.IsValid() {
		return fmt.Errorf("the any-DSCP mapping of %s has no VIP", localName(e.Local))
	}
	if !e.Local.IsValid() {
		return fmt.Errorf("the any-DSCP mapping of VIP %s has no local address: it would take every packet; give the VIP's own address on this server (its RIP), e.g. --map any=%s@RIP", e.VIP, e.VIP)
	}
	if e.Local.Is4() != e.VIP.Is4() {
		return fmt.Errorf("the any-DSCP mapping of %s mixes families: VIP %s", e.Local, e.VIP)
	}
	if j, dup := a.anyAt[e.Local]; dup {
		return fmt.Errorf("local address %s is mapped twice for any DSCP: to %s and %s", e.Local, a.cfg.Mapping[j].VIP, e.VIP)
	}
	a.anyAt[e.Local] = i
	a.mapIdx[keyOfEntry(e)] = i
	return nil
}

func famOf(a netip.Addr) uint8 {
	if a.Is4() {
		return 4
	}
	return 6
}

func localName(a netip.Addr) string {
	if !a.IsValid() {
		return "any"
	}
	return a.String()
}

// lookup returns the index of the table entry for a packet of family fam
// with code to dst, in the module's order: the entry for (code, dst)
// first, then (code, any), then (any code, dst).
func (a *analyzer) lookup(fam, code uint8, dst netip.Addr) (int, bool) {
	f := 0
	if fam == 6 {
		f = 1
	}
	anyI := -1
	for _, i := range a.byCode[f][code&maxDSCP] {
		switch l := a.cfg.Mapping[i].Local; {
		case !l.IsValid():
			anyI = int(i)
		case l == dst:
			return int(i), true
		}
	}
	if anyI >= 0 {
		return anyI, true
	}
	i, ok := a.anyAt[dst]
	return i, ok
}

func (a *analyzer) code(c uint8) *codeState {
	s := a.codes[c]
	if s == nil {
		s = &codeState{}
		a.codes[c] = s
	}
	return s
}

func hasFlowPorts(p *layer) bool {
	return p.ports || (p.Addrs && !p.fragment && (p.Proto == 1 || p.Proto == 58))
}

func keyOf(p *layer, client netip.Addr, cport, sport uint16) flowKey {
	return flowKey{fam: p.Family, proto: p.Proto, client: client.As16(), cport: cport, sport: sport}
}

// Add takes one decoded packet and returns what it was to the verdict.
func (a *analyzer) Add(p *Packet) Class {
	return a.add(p, lookAhead{})
}

// add is Add with the hashes ahead computed for p, if any.
func (a *analyzer) add(p *Packet, x lookAhead) Class {
	a.packets++
	if p.Malformed != "" {
		a.malformed[p.Malformed]++
		return malformedPacket
	}
	if p.Family == 0 {
		return ignored
	}
	a.ipPackets++
	inSet := a.cfg.Codes.has(p.DSCP)
	tunnel := p.Tunnel != 0 && p.inner.Family != 0
	if a.ipip && a.cfg.Role == roleRealServer {
		// The tunnel carries the request whatever its code.
		inSet = tunnel
	}
	if a.addr {
		// A request to a RIP counts whatever its code: the director
		// marked nothing, and the client's code passes through.
		_, inSet = a.anyAt[p.Dst]
		inSet = inSet && p.Addrs && !tunnel
	}
	if inSet {
		s := a.code(p.DSCP)
		s.packets++
		s.bytes += uint64(p.Length)
		if tunnel {
			s.tunnels++
			if p.inner.DSCP != p.DSCP {
				if s.innerDiff == nil {
					s.innerDiff = map[uint8]uint64{}
				}
				s.innerDiff[p.inner.DSCP]++
			}
		}
		if p.laterFragment {
			s.laterFrags++
		} else if !hasFlowPorts(&p.layer) && (p.truncated || !p.Addrs) {
			s.noPorts++
		}
	} else if tunnel && a.cfg.Codes.has(p.inner.DSCP) && a.cfg.Role == roleRealServer {
		a.tunnelsOff[[2]uint8{p.DSCP, p.inner.DSCP}]++
	}
	if a.cfg.Role == roleDirector {
		return a.addDirector(p, inSet)
	}
	if p.Addrs && hasFlowPorts(&p.layer) {
		var f *flow
		if k := keyOf(&p.layer, p.Dst, p.DstPort, p.SrcPort); x.has&1 != 0 {
			f, _ = a.flows.findHash(&k, x.rep)
		} else {
			f = a.flows.get(k)
		}
		if f != nil {
			s := a.code(f.code)
			src := p.Src.As16()
			switch {
			case f.flags&flowHasVIP != 0 && src == a.flows.addrs[f.vip]:
				if f.flags&flowAnswered == 0 {
					s.answered++
					f.flags |= flowAnswered
				}
				s.fromVIP++
				return replyFromVIP
			case src == a.flows.addrs[f.rip]:
				s.fromRIP++
				if s.ripSources == nil {
					s.ripSources = map[netip.Addr]bool{}
				}
				s.ripSources[p.Src] = true
				return replyFromRIP
			default:
				s.fromOther++
				if s.otherSources == nil {
					s.otherSources = map[netip.Addr]bool{}
				}
				s.otherSources[p.Src] = true
				return replyOther
			}
		}
	}
	if !inSet {
		a.countUnmarked(p)
		return ignored
	}
	s := a.code(p.DSCP)
	if a.ipip {
		return a.addTunneled(p, s)
	}
	var dst netip.Addr
	if p.Addrs {
		dst = p.Dst
	}
	mi, mapped := a.lookup(p.Family, p.DSCP, dst)
	if !mapped {
		s.unmapped++
		s.unmappedFam |= p.Family
		if p.Addrs {
			if s.unmappedDst == nil {
				s.unmappedDst = map[netip.Addr]bool{}
			}
			s.unmappedDst[p.Dst] = true
		}
	} else {
		a.used[mi] = true
		if a.cfg.Mapping[mi].AnyDSCP {
			if s.anyUsed == nil {
				s.anyUsed = map[int]bool{}
			}
			s.anyUsed[mi] = true
		}
	}
	// A tunnel's flow is the client's, in the inner header; the RIP is
	// the outer destination.
	fl := &p.layer
	if tunnel {
		fl = &p.inner
	}
	if p.Addrs && fl.Addrs && hasFlowPorts(fl) {
		var vip netip.Addr
		if mapped {
			vip = a.cfg.Mapping[mi].VIP
		}
		k := keyOf(fl, fl.Src, fl.SrcPort, fl.DstPort)
		var h uint64
		if x.has&2 != 0 {
			h = x.req
		} else {
			h = a.flows.hash(&k)
		}
		a.track(s, k, h, p.DSCP, p.Dst, vip)
	}
	if !mapped {
		return unmapped
	}
	return marked
}

// countUnmarked counts p when it is a request that reached a RIP of a
// code entry, or a --port, with a code outside the set (dscp mode on a
// real server): where a router re-marks DSCP, that is all that arrives.
func (a *analyzer) countUnmarked(p *Packet) {
	if a.ipip || a.addr || a.cfg.Role != roleRealServer || !p.Addrs || p.Tunnel != 0 {
		return
	}
	if !a.ripAt[p.Dst] && !(p.ports && a.ports[p.DstPort]) {
		return
	}
	a.unmarked[p.Dst]++
	a.unmarkedCodes[p.DSCP]++
}

// lookAhead is what Add will look up in the flow table for a packet:
// the hashes of its keys as a reply (has&1) and as a request (has&2).
type lookAhead struct {
	rep, req uint64
	has      uint8
}

// ahead starts loading the flow table's slots that Add will read for p,
// some packets before Add sees it, so that their cache misses overlap
// with other work; ahead2, later, the flows those slots name. Neither
// changes anything: Add still looks everything up, in order.
func (a *analyzer) ahead(p *Packet) (x lookAhead) {
	if a.cfg.Role != roleRealServer || a.ipip || p.Family == 0 || !p.Addrs || !hasFlowPorts(&p.layer) {
		return x
	}
	k := keyOf(&p.layer, p.Dst, p.DstPort, p.SrcPort)
	if a.flows.mayHaveClient(&k.client) {
		x.rep, x.has = a.flows.hash(&k), 1
		a.flows.prefetchSlot(x.rep)
	}
	if p.Tunnel == 0 && a.cfg.Codes.has(p.DSCP) {
		k = keyOf(&p.layer, p.Src, p.SrcPort, p.DstPort)
		x.req = a.flows.hash(&k)
		x.has |= 2
		a.flows.prefetchSlot(x.req)
	}
	return x
}

func (a *analyzer) ahead2(x *lookAhead) {
	if x.has&1 != 0 {
		a.flows.prefetchFlow(x.rep)
	}
	if x.has&2 != 0 {
		a.flows.prefetchFlow(x.req)
	}
}

// track adds a flow for k, whose hash is h, unless it is known.
func (a *analyzer) track(s *codeState, k flowKey, h uint64, code uint8, rip, vip netip.Addr) {
	f, slot := a.flows.findHash(&k, h)
	if f != nil {
		return
	}
	if a.flows.n >= a.maxFlows {
		a.untracked++
		return
	}
	nf := flow{code: code, rip: a.flows.intern(rip.As16(), 0)}
	if vip.IsValid() {
		nf.flags, nf.vip = flowHasVIP, a.flows.intern(vip.As16(), 1)
	}
	a.flows.insert(slot, h, &k, nf)
	s.flows++
}

// addTunneled takes a tunnel packet in IPIP mode: the outer destination
// is the RIP, the inner destination the VIP the reply must come from.
func (a *analyzer) addTunneled(p *Packet, s *codeState) Class {
	in := &p.inner
	if !in.Addrs {
		return tunneled
	}
	if len(a.cfg.Mapping) > 0 && !a.isVIP(in.Dst) {
		if s.notVIP == nil {
			s.notVIP = map[netip.Addr]bool{}
		}
		s.notVIP[in.Dst] = true
	}
	if s.vips == nil {
		s.vips = map[netip.Addr]bool{}
	}
	s.vips[in.Dst] = true
	if hasFlowPorts(in) {
		k := keyOf(in, in.Src, in.SrcPort, in.DstPort)
		a.track(s, k, a.flows.hash(&k), p.DSCP, p.Dst, in.Dst)
	}
	return tunneled
}

func (a *analyzer) isVIP(addr netip.Addr) bool {
	for _, e := range a.cfg.Mapping {
		if e.VIP == addr {
			return true
		}
	}
	return false
}

// expectAt is the index in cfg.Expect of the first service at addr whose
// port is port (or any port), or -1. hasPort says the packet has ports.
func (a *analyzer) expectAt(addr netip.Addr, hasPort bool, port uint16) int {
	for _, i := range a.byVIP[addr] {
		if e := a.cfg.Expect[i]; e.Port == 0 || hasPort && port == e.Port {
			return i
		}
	}
	return -1
}

func (a *analyzer) addDirector(p *Packet, inSet bool) Class {
	if !p.Addrs {
		if inSet {
			return marked
		}
		return ignored
	}
	if i := a.expectAt(p.Dst, p.ports, p.DstPort); i >= 0 {
		a.exp[i].clientPackets++
		if hasFlowPorts(&p.layer) {
			k := keyOf(&p.layer, p.Src, p.SrcPort, 0)
			if _, ok := a.clients[k]; ok || len(a.clients) < a.maxFlows {
				a.clients[k] = i
			}
		}
		return toVIP
	}
	if i := a.expectAt(p.Src, p.ports, p.SrcPort); i >= 0 {
		a.exp[i].viaDirector++
		return replyViaDirector
	}
	// A tunnel's client is in the inner header; the real server is the
	// outer destination either way.
	fl := &p.layer
	if p.Tunnel != 0 && p.inner.Family != 0 {
		fl = &p.inner
	}
	if hasFlowPorts(fl) {
		if i, ok := a.clients[keyOf(fl, fl.Src, fl.SrcPort, 0)]; ok {
			x := &a.exp[i]
			x.forwarded++
			if x.reals == nil {
				x.reals = map[netip.Addr]bool{}
			}
			x.reals[p.Dst] = true
			if p.DSCP == a.cfg.Expect[i].DSCP {
				x.right++
				return forwardedOK
			}
			x.wrong++
			if x.wrongCodes == nil {
				x.wrongCodes = map[uint8]uint64{}
			}
			x.wrongCodes[p.DSCP]++
			return forwardedWrong
		}
	}
	if inSet {
		return marked
	}
	return ignored
}

// updateCounters gives the module's counters read at the end of the
// capture; the report shows them and how far they moved since config's.
// Entries are matched by (family, DSCP, local address).
func (a *analyzer) updateCounters(entries []MapEntry) {
	for _, e := range entries {
		if i, ok := a.mapIdx[keyOfEntry(e)]; ok {
			a.cfg.Mapping[i].Packets, a.cfg.Mapping[i].Bytes = e.Packets, e.Bytes
		}
	}
}

// Report is the verdict with the figures behind it.
type Report struct {
	Role string `json:"role"`
	Mode string `json:"mode"`
	// Codes are the DSCP codes looked at ("1-63").
	Codes string `json:"codes"`
	// Packets is every packet read; IPPackets the IPv4/IPv6 ones.
	Packets   uint64 `json:"packets"`
	IPPackets uint64 `json:"ip_packets"`
	// Marked counts packets carrying a code of the set.
	Marked uint64 `json:"marked"`
	// Malformed counts IP packets the network would not deliver (see
	// frameDecoder), by reason; they are in no other count.
	Malformed        uint64            `json:"malformed"`
	MalformedReasons []malformedReport `json:"malformed_reasons"`
	// UntrackedFlows: flows beyond the flow limit (their replies were not
	// matched).
	UntrackedFlows uint64         `json:"untracked_flows"`
	PerCode        []codeReport   `json:"dscp"`
	Services       []expectReport `json:"services"`
	verdict
}

// verdict is the judgement of the whole report or of one code in it.
type verdict struct {
	// OK says there is no problem.
	OK bool `json:"ok"`
	// Problems say why the verdict is not OK, one reason each.
	Problems []string `json:"problems"`
	// Notes are worth knowing but do not fail the verdict.
	Notes []string `json:"notes"`
}

func newVerdict() verdict { return verdict{Problems: []string{}, Notes: []string{}} }

// malformedReport is the count of malformed packets for one reason.
type malformedReport struct {
	Reason  string `json:"reason"`
	Packets uint64 `json:"packets"`
}

// codeReport is what was seen of one DSCP code.
type codeReport struct {
	DSCP    uint8  `json:"dscp"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Flows   int    `json:"flows"`
	// Mappings are the table's entries for this code, with the module's
	// counters (roleRealServer).
	Mappings []mappingReport `json:"mappings"`
	// Unmapped counts packets for which the table had no VIP.
	Unmapped uint64 `json:"unmapped_packets"`
	// Replies to this code's flows, by source: its VIP, the RIP the
	// request was sent to, or another address.
	RepliesFromVIP uint64 `json:"replies_from_vip"`
	RepliesFromRIP uint64 `json:"replies_from_rip"`
	RepliesOther   uint64 `json:"replies_other"`
	// FlowsAnswered counts flows with at least one reply from the VIP.
	FlowsAnswered int `json:"flows_answered"`
	// Tunneled counts the packets that carried an inner IP header;
	// InnerDSCP the ones whose inner DSCP differs from this (outer) code.
	Tunneled  uint64           `json:"tunneled"`
	InnerDSCP []innerDSCPCount `json:"inner_dscp"`
	verdict
}

// innerDSCPCount is how many tunnel packets carried DSCP inside.
type innerDSCPCount struct {
	DSCP    int    `json:"dscp"`
	Packets uint64 `json:"packets"`
}

// mappingReport is one table entry with its counters.
type mappingReport struct {
	// AnyDSCP: an addr-mode entry, for every code to Local.
	AnyDSCP bool   `json:"any_dscp,omitempty"`
	Local   string `json:"local"`
	VIP     string `json:"vip"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// PacketsDelta is how far the packet counter moved during the run.
	PacketsDelta uint64 `json:"packets_delta"`
}

// expectReport is what a director did for one service.
type expectReport struct {
	Service       string `json:"service"`
	DSCP          uint8  `json:"dscp"`
	ClientPackets uint64 `json:"client_packets"`
	// Forwarded are the client packets seen leaving for a real server;
	// Right carry the service's DSCP, Wrong another one.
	Forwarded   uint64   `json:"forwarded"`
	Right       uint64   `json:"right_dscp"`
	Wrong       uint64   `json:"wrong_dscp"`
	WrongCodes  []int    `json:"wrong_codes"`
	Reals       []string `json:"reals"`
	ViaDirector uint64   `json:"replies_via_director"`
	OK          bool     `json:"ok"`
	Problems    []string `json:"problems"`
}

func sortedAddrs(m map[netip.Addr]bool) []string {
	as := make([]netip.Addr, 0, len(m))
	for a := range m {
		as = append(as, a)
	}
	slices.SortFunc(as, netip.Addr.Compare)
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// Report returns the verdict so far.
func (a *analyzer) report() Report {
	codes := a.cfg.Codes.String()
	if a.addr {
		codes = "any"
	}
	r := Report{Role: a.cfg.Role.String(), Mode: string(a.cfg.Mode), Codes: codes, Packets: a.packets, IPPackets: a.ipPackets,
		UntrackedFlows: a.untracked, PerCode: []codeReport{}, Services: []expectReport{}, verdict: newVerdict(),
		MalformedReasons: []malformedReport{}}
	for why, n := range a.malformed {
		r.Malformed += n
		r.MalformedReasons = append(r.MalformedReasons, malformedReport{Reason: why, Packets: n})
	}
	slices.SortFunc(r.MalformedReasons, func(x, y malformedReport) int { return cmp.Compare(x.Reason, y.Reason) })
	for _, m := range r.MalformedReasons {
		r.Notes = append(r.Notes, fmt.Sprintf("%s malformed (%s): counted apart, not judged", plural(m.Packets, "packet"), m.Reason))
	}
	for c := range a.codes {
		s := a.codes[c]
		if s == nil || s.packets == 0 && s.fromVIP+s.fromRIP+s.fromOther == 0 {
			continue
		}
		r.Marked += s.packets
		cr := codeReport{DSCP: uint8(c), Packets: s.packets, Bytes: s.bytes, Flows: s.flows, Unmapped: s.unmapped,
			RepliesFromVIP: s.fromVIP, RepliesFromRIP: s.fromRIP, RepliesOther: s.fromOther, FlowsAnswered: s.answered,
			Tunneled: s.tunnels, Mappings: []mappingReport{}, InnerDSCP: []innerDSCPCount{}, verdict: newVerdict()}
		for in, n := range s.innerDiff {
			cr.InnerDSCP = append(cr.InnerDSCP, innerDSCPCount{DSCP: int(in), Packets: n})
		}
		slices.SortFunc(cr.InnerDSCP, func(x, y innerDSCPCount) int { return cmp.Compare(x.DSCP, y.DSCP) })
		if a.cfg.Role == roleRealServer {
			for i, e := range a.cfg.Mapping {
				if e.AnyDSCP && !s.anyUsed[i] || !e.AnyDSCP && e.DSCP != uint8(c) {
					continue
				}
				var d uint64
				if e.Packets >= a.start[i].Packets {
					d = e.Packets - a.start[i].Packets
				}
				cr.Mappings = append(cr.Mappings, mappingReport{AnyDSCP: e.AnyDSCP, Local: localName(e.Local), VIP: e.VIP.String(), Packets: e.Packets, Bytes: e.Bytes, PacketsDelta: d})
			}
			slices.SortFunc(cr.Mappings, func(x, y mappingReport) int { return cmp.Or(cmp.Compare(x.VIP, y.VIP), cmp.Compare(x.Local, y.Local)) })
			cr.Problems, cr.Notes = a.codeProblems(uint8(c), s, &cr)
		}
		cr.OK = len(cr.Problems) == 0
		r.Problems = append(r.Problems, cr.Problems...)
		r.Notes = append(r.Notes, cr.Notes...)
		r.PerCode = append(r.PerCode, cr)
	}
	offs := make([][2]uint8, 0, len(a.tunnelsOff))
	for k := range a.tunnelsOff {
		offs = append(offs, k)
	}
	slices.SortFunc(offs, func(x, y [2]uint8) int { return cmp.Or(cmp.Compare(x[0], y[0]), cmp.Compare(x[1], y[1])) })
	for _, k := range offs {
		r.Notes = append(r.Notes, fmt.Sprintf("%s with DSCP %d in the inner header but %d in the outer one, which is outside DSCP %s: in --mode dscp the outer code counts (it is what the director set on the wire); judge a tunnel with --mode ipip",
			plural(a.tunnelsOff[k], "tunnel packet"), k[1], k[0], r.Codes))
	}
	switch a.cfg.Role {
	case roleRealServer:
		r.Problems, r.Notes = a.arrivals(r.Marked, r.Codes, r.Problems, r.Notes)
	case roleDirector:
		var fwd uint64
		for i, e := range a.cfg.Expect {
			x := a.exp[i]
			er := expectReport{Service: e.String(), DSCP: e.DSCP, ClientPackets: x.clientPackets, Forwarded: x.forwarded,
				Right: x.right, Wrong: x.wrong, Reals: sortedAddrs(x.reals), ViaDirector: x.viaDirector}
			er.WrongCodes = []int{}
			er.Problems = []string{}
			if er.Reals == nil {
				er.Reals = []string{}
			}
			for c := range x.wrongCodes {
				er.WrongCodes = append(er.WrongCodes, int(c))
			}
			slices.Sort(er.WrongCodes)
			fwd += x.forwarded
			if x.clientPackets > 0 && x.forwarded == 0 {
				er.Problems = append(er.Problems, fmt.Sprintf("%s: %s from clients, but none seen leaving for a real server", er.Service, plural(x.clientPackets, "packet")))
			}
			if x.wrong > 0 {
				codes := make([]string, len(er.WrongCodes))
				for j, c := range er.WrongCodes {
					codes[j] = fmt.Sprint(c)
				}
				er.Problems = append(er.Problems, fmt.Sprintf("%s: %d of %d packets to the real servers (%s) carry DSCP %s instead of %d: check the DSCP marking rule for this VIP",
					er.Service, x.wrong, x.forwarded, strings.Join(er.Reals, ", "), strings.Join(codes, ","), e.DSCP))
			}
			if x.viaDirector > 0 {
				er.Problems = append(er.Problems, fmt.Sprintf("%s: %s from the VIP left through the director: the real servers' replies should go straight to the clients", er.Service, plural(x.viaDirector, "reply")))
			}
			er.OK = len(er.Problems) == 0
			r.Problems = append(r.Problems, er.Problems...)
			r.Services = append(r.Services, er)
		}
		if fwd == 0 {
			names := make([]string, len(a.cfg.Expect))
			for i, e := range a.cfg.Expect {
				names[i] = e.String()
			}
			r.Problems = append(r.Problems, fmt.Sprintf("no packet for %s seen leaving for a real server (%s read)", strings.Join(names, ", "), plural(a.packets, "packet")))
		}
	}
	r.OK = len(r.Problems) == 0
	return r
}

// Plural writes n with noun, in the plural unless n is 1 ("reply"
// becomes "replies").
func plural[N int | uint64](n N, noun string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	if strings.HasSuffix(noun, "y") {
		return fmt.Sprintf("%d %sies", n, noun[:len(noun)-1])
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// snapAdvice is what to do when packets were cut before their ports: the
// headers verify reads end at most 14 + 2*4 (VLAN) + 60 (IPv4 options) or
// 40 + extension headers, + 20 (TCP) bytes into the frame.
const snapAdvice = "the capture's snap length is too small: capture again with tcpdump -s 256 or more (-s 0 keeps whole packets)"

func famName(f uint8) string {
	if f == 4 {
		return "IPv4"
	}
	return "IPv6"
}

func (a *analyzer) codeProblems(c uint8, s *codeState, cr *codeReport) (problems, notes []string) {
	problems, notes = []string{}, []string{}
	if a.ipip {
		if len(s.notVIP) > 0 {
			problems = append(problems, fmt.Sprintf("DSCP %d: tunnel packets whose inner destination (%s) is not a VIP given with --map", c, strings.Join(sortedAddrs(s.notVIP), ", ")))
		}
	} else if s.unmapped > 0 {
		to := ""
		if len(s.unmappedDst) > 0 {
			to = " to " + strings.Join(sortedAddrs(s.unmappedDst), ", ")
		}
		why := fmt.Sprintf("the table maps no VIP to DSCP %d: add it with 'l3dsr rule add --dscp %d --vip VIP'", c, c)
		// A code mapped in the other family only is a frequent slip: say so.
		for _, fam := range []uint8{4, 6} {
			if s.unmappedFam&fam == 0 {
				continue
			}
			var other []string
			for _, e := range a.cfg.Mapping {
				if e.DSCP == c && famOf(e.VIP) != fam {
					other = append(other, e.VIP.String())
				}
			}
			if len(other) > 0 {
				why = fmt.Sprintf("the table maps DSCP %d to %s VIPs only (%s) and these packets are %s: add an %s VIP with 'l3dsr rule add --dscp %d --vip VIP'", c, famName(otherFam(fam)), strings.Join(other, ", "), famName(fam), famName(fam), c)
			}
		}
		problems = append(problems, fmt.Sprintf("DSCP %d: %s%s, but %s", c, plural(s.unmapped, "packet"), to, why))
	}
	vs := make(map[netip.Addr]bool, len(s.vips))
	for v := range s.vips {
		vs[v] = true
	}
	for i, e := range a.cfg.Mapping {
		if a.used[i] && !e.AnyDSCP && e.DSCP == c || s.anyUsed[i] {
			vs[e.VIP] = true
		}
	}
	vips := strings.Join(sortedAddrs(vs), ", ")
	if s.fromRIP > 0 {
		problems = append(problems, fmt.Sprintf("DSCP %d: %s left from the RIP (%s) instead of the VIP %s: the destination was not rewritten before the socket (is the map-mode rule in raw PREROUTING?)",
			c, plural(s.fromRIP, "reply"), strings.Join(sortedAddrs(s.ripSources), ", "), cmp.Or(vips, "(none)")))
	}
	if s.fromOther > 0 {
		problems = append(problems, fmt.Sprintf("DSCP %d: %s left from %s, neither the VIP %s nor the RIP", c, plural(s.fromOther, "reply"), strings.Join(sortedAddrs(s.otherSources), ", "), cmp.Or(vips, "(none)")))
	}
	judgeable := s.packets - s.laterFrags
	if s.unmapped == 0 && s.fromVIP == 0 && s.fromRIP == 0 && s.fromOther == 0 {
		switch {
		case s.flows == 0 && judgeable == 0:
			// Only later fragments: their first fragment (with the ports)
			// was not captured, so there is no flow to judge.
		case s.flows == 0 && s.noPorts == judgeable:
			problems = append(problems, fmt.Sprintf("DSCP %d: %s, all cut before their ports, so no flow could be followed: %s", c, plural(s.packets, "packet"), snapAdvice))
		default:
			problems = append(problems, fmt.Sprintf("DSCP %d: %s in %s, but no reply from the VIP %s seen: is a service listening on the VIP, and does the reply leave by this interface?", c, plural(s.packets, "packet"), plural(s.flows, "flow"), cmp.Or(vips, "(none)")))
		}
	}
	if s.laterFrags > 0 {
		notes = append(notes, fmt.Sprintf("DSCP %d: %s not the first of a datagram: no ports, so no flow (a lone one means the first fragment was not captured)", c, plural(s.laterFrags, "fragment")))
	}
	if s.noPorts > 0 && (s.flows > 0 || s.noPorts < judgeable) {
		notes = append(notes, fmt.Sprintf("DSCP %d: %s cut before the ports: %s", c, plural(s.noPorts, "packet"), snapAdvice))
	}
	if len(cr.InnerDSCP) > 0 {
		var n uint64
		parts := make([]string, len(cr.InnerDSCP))
		for i, x := range cr.InnerDSCP {
			n += x.Packets
			parts[i] = fmt.Sprintf("DSCP %d (%s)", x.DSCP, plural(x.Packets, "packet"))
		}
		notes = append(notes, fmt.Sprintf("DSCP %d: %s of %d with another code in the inner header: %s; the outer code is the one counted", c, plural(n, "tunnel packet"), s.tunnels, strings.Join(parts, ", ")))
	}
	return problems, notes
}

func otherFam(f uint8) uint8 { return 10 - f }

// arrivals judges what reached a real server at all: in addr mode, a
// packet to a RIP; in dscp mode a marked one, and when packets reached
// the RIPs with other codes, that a router re-marks DSCP on the way.
func (a *analyzer) arrivals(marked uint64, codes string, problems, notes []string) ([]string, []string) {
	read := plural(a.packets, "packet")
	var unmarked uint64
	for _, n := range a.unmarked {
		unmarked += n
	}
	switch {
	case a.ipip && marked == 0:
		problems = append(problems, fmt.Sprintf("no tunnel packet (IPIP, IPv6-in-IP or GRE) seen (%s read): nothing reached this host through an IPIP director", read))
	case a.addr && len(a.anyAt) == 0:
		problems = append(problems, "the table has no any-DSCP entry, so no address here stands for a VIP in addr mode: add one with 'l3dsr realserver up --mode addr --vip VIP --rip RIP', or give --map any=VIP@RIP")
	case a.addr && marked == 0:
		rips := make(map[netip.Addr]bool, len(a.anyAt))
		for l := range a.anyAt {
			rips[l] = true
		}
		problems = append(problems, fmt.Sprintf("no packet to an addr-mode RIP (%s) seen (%s read): nothing reached this host through an addr-mode director", strings.Join(sortedAddrs(rips), ", "), read))
	case a.addr || a.ipip:
	case marked == 0 && unmarked > 0:
		problems = append(problems, fmt.Sprintf("%s reach RIP %s unmarked (%s) and none with DSCP %s: a router on the path re-marks DSCP; use addr mode or ipip",
			plural(unmarked, "packet"), a.unmarkedTo(), a.unmarkedCodeNames(), codes))
	case marked == 0:
		problems = append(problems, fmt.Sprintf("no packet marked with DSCP %s seen (%s read): nothing reached this host through an L3 DSR director", codes, read))
	case unmarked > 0:
		notes = append(notes, fmt.Sprintf("%s reached RIP %s unmarked (%s): ordinary traffic to the RIP, or a router on the path that re-marks some packets' DSCP", plural(unmarked, "packet"), a.unmarkedTo(), a.unmarkedCodeNames()))
	}
	return problems, notes
}

func (a *analyzer) unmarkedTo() string {
	to := make(map[netip.Addr]bool, len(a.unmarked))
	for d := range a.unmarked {
		to[d] = true
	}
	return strings.Join(sortedAddrs(to), ", ")
}

// unmarkedCodeNames: "DSCP 0", or "DSCP 0, 8" (each code seen).
func (a *analyzer) unmarkedCodeNames() string {
	var cs []int
	for c := range a.unmarkedCodes {
		cs = append(cs, int(c))
	}
	slices.Sort(cs)
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprint(c)
	}
	return "DSCP " + strings.Join(parts, ", ")
}

// judgeAll is the verdict over a list of decoded packets: newAnalyzer, Add
// each, Report.
func judgeAll(cfg config, pkts []Packet) (Report, error) {
	a, err := newAnalyzer(cfg)
	if err != nil {
		return Report{}, err
	}
	for i := range pkts {
		a.Add(&pkts[i])
	}
	return a.report(), nil
}
