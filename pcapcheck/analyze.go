package pcapcheck

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Role is where verify runs.
type Role int

const (
	// RealServer: marked requests arrive for the RIP; the replies must
	// leave from the VIP the module maps the code to.
	RealServer Role = iota
	// Director: packets for a VIP leave for the real servers carrying the
	// DSCP configured for that VIP.
	Director
)

func (r Role) String() string {
	if r == Director {
		return "director"
	}
	return "realserver"
}

// MapEntry is one entry of the real server's DSCP→VIP table (as
// genl.Entry), with the module's counters when known.
type MapEntry struct {
	DSCP uint8
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

// Config is what the verdict is judged against.
type Config struct {
	Role Role
	// Codes are the DSCP codes to look at (the codes reserved for L3 DSR).
	Codes DSCPSet
	// Mapping is the real server's table (RealServer).
	Mapping []MapEntry
	// Expect is the director's DSCP per VIP (Director).
	Expect []Expectation
	// MaxFlows bounds the flows tracked (0: DefaultMaxFlows); packets of
	// flows beyond it are counted but their replies are not matched.
	MaxFlows int
}

// DefaultMaxFlows is the number of flows an Analyzer tracks by default.
const DefaultMaxFlows = 1 << 20

// Class is what an Analyzer made of one packet.
type Class uint8

const (
	Ignored          Class = iota // not IP, or not relevant to the verdict
	Marked                        // carries a DSCP code of the set
	Unmapped                      // carries a code the table has no VIP for
	ReplyFromVIP                  // a reply to a marked flow, from its VIP
	ReplyFromRIP                  // a reply to a marked flow, from the RIP it was sent to
	ReplyOther                    // a reply to a marked flow, from another address
	ToVIP                         // director: a client's packet for a VIP
	ForwardedOK                   // director: sent to a real server with the VIP's DSCP
	ForwardedWrong                // director: sent to a real server with another DSCP
	ReplyViaDirector              // director: a reply from the VIP leaving the director
)

var classNames = [...]string{"ignored", "marked", "unmapped", "reply-from-vip", "reply-from-rip", "reply-other", "to-vip", "forwarded-ok", "forwarded-wrong-dscp", "reply-via-director"}

func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", c)
}

// flowKey names a flow by the client's end and the service port, which
// is what a request and its reply share whatever address the server
// answers from.
type flowKey struct {
	fam    uint8
	proto  uint8
	client [16]byte
	cport  uint16
	sport  uint16
}

type flow struct {
	code    uint8
	rip     netip.Addr
	vip     netip.Addr // invalid: unmapped
	fromVIP uint64
}

type mapKey struct {
	fam   uint8
	code  uint8
	local netip.Addr
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
}

type expState struct {
	clientPackets, forwarded, right, wrong, viaDirector uint64
	wrongCodes                                          map[uint8]uint64
	reals                                               map[netip.Addr]bool
}

// Analyzer judges a stream of decoded packets. Add each packet, then
// Report. Not safe for concurrent use.
type Analyzer struct {
	cfg       Config
	mapIdx    map[mapKey]int
	start     []MapEntry
	codes     [64]*codeState
	flows     map[flowKey]*flow
	maxFlows  int
	packets   uint64
	ipPackets uint64
	untracked uint64
	// director
	byVIP   map[netip.Addr][]int
	clients map[flowKey]int
	exp     []expState
}

// NewAnalyzer checks cfg and returns an Analyzer for it.
func NewAnalyzer(cfg Config) (*Analyzer, error) {
	a := &Analyzer{cfg: cfg, mapIdx: map[mapKey]int{}, flows: map[flowKey]*flow{}, maxFlows: cfg.MaxFlows,
		byVIP: map[netip.Addr][]int{}, clients: map[flowKey]int{}}
	if a.maxFlows <= 0 {
		a.maxFlows = DefaultMaxFlows
	}
	for i, e := range cfg.Mapping {
		if e.DSCP > 63 {
			return nil, fmt.Errorf("mapping DSCP %d is out of range: use 0-63", e.DSCP)
		}
		if !e.VIP.IsValid() {
			return nil, fmt.Errorf("the mapping of DSCP %d has no VIP", e.DSCP)
		}
		if e.Local.IsValid() && e.Local.Is4() != e.VIP.Is4() {
			return nil, fmt.Errorf("the mapping of DSCP %d mixes families: VIP %s, local address %s", e.DSCP, e.VIP, e.Local)
		}
		k := mapKey{famOf(e.VIP), e.DSCP, e.Local}
		if j, dup := a.mapIdx[k]; dup {
			return nil, fmt.Errorf("DSCP %d (local %s) is mapped twice: to %s and %s", e.DSCP, localName(e.Local), cfg.Mapping[j].VIP, e.VIP)
		}
		a.mapIdx[k] = i
	}
	a.start = slices.Clone(cfg.Mapping)
	switch cfg.Role {
	case RealServer:
		if cfg.Codes == 0 {
			return nil, fmt.Errorf("no DSCP code to look at: give at least one")
		}
	case Director:
		if len(cfg.Expect) == 0 {
			return nil, fmt.Errorf("the director check needs the DSCP of at least one VIP")
		}
		seen := map[Expectation]bool{}
		for i, e := range cfg.Expect {
			if !e.VIP.IsValid() || e.DSCP > 63 {
				return nil, fmt.Errorf("expectation %d: a VIP and a DSCP 0-63 are required", i+1)
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
// with code to dst: the entry for (code, dst) first, then (code, any).
func (a *Analyzer) lookup(fam, code uint8, dst netip.Addr) (int, bool) {
	if dst.IsValid() {
		if i, ok := a.mapIdx[mapKey{fam, code, dst}]; ok {
			return i, true
		}
	}
	i, ok := a.mapIdx[mapKey{fam, code, netip.Addr{}}]
	return i, ok
}

func (a *Analyzer) code(c uint8) *codeState {
	s := a.codes[c]
	if s == nil {
		s = &codeState{}
		a.codes[c] = s
	}
	return s
}

func hasFlowPorts(p *Packet) bool {
	return p.Ports || (p.Addrs && !p.Fragment && (p.Proto == 1 || p.Proto == 58))
}

func keyOf(p *Packet, client netip.Addr, cport, sport uint16) flowKey {
	return flowKey{fam: p.Family, proto: p.Proto, client: client.As16(), cport: cport, sport: sport}
}

// Add takes one decoded packet and returns what it was to the verdict.
func (a *Analyzer) Add(p *Packet) Class {
	a.packets++
	if p.Family == 0 {
		return Ignored
	}
	a.ipPackets++
	inSet := a.cfg.Codes.Has(p.DSCP)
	if inSet {
		s := a.code(p.DSCP)
		s.packets++
		s.bytes += uint64(p.Length)
	}
	if a.cfg.Role == Director {
		return a.addDirector(p, inSet)
	}
	if p.Addrs && hasFlowPorts(p) {
		if f, ok := a.flows[keyOf(p, p.Dst, p.DstPort, p.SrcPort)]; ok {
			s := a.code(f.code)
			switch {
			case f.vip.IsValid() && p.Src == f.vip:
				if f.fromVIP == 0 {
					s.answered++
				}
				f.fromVIP++
				s.fromVIP++
				return ReplyFromVIP
			case p.Src == f.rip:
				s.fromRIP++
				if s.ripSources == nil {
					s.ripSources = map[netip.Addr]bool{}
				}
				s.ripSources[p.Src] = true
				return ReplyFromRIP
			default:
				s.fromOther++
				if s.otherSources == nil {
					s.otherSources = map[netip.Addr]bool{}
				}
				s.otherSources[p.Src] = true
				return ReplyOther
			}
		}
	}
	if !inSet {
		return Ignored
	}
	s := a.code(p.DSCP)
	var dst netip.Addr
	if p.Addrs {
		dst = p.Dst
	}
	mi, mapped := a.lookup(p.Family, p.DSCP, dst)
	if !mapped {
		s.unmapped++
		if p.Addrs {
			if s.unmappedDst == nil {
				s.unmappedDst = map[netip.Addr]bool{}
			}
			s.unmappedDst[p.Dst] = true
		}
	} else {
		if s.vips == nil {
			s.vips = map[netip.Addr]bool{}
		}
		s.vips[a.cfg.Mapping[mi].VIP] = true
	}
	if p.Addrs && hasFlowPorts(p) {
		k := keyOf(p, p.Src, p.SrcPort, p.DstPort)
		if _, ok := a.flows[k]; !ok {
			if len(a.flows) < a.maxFlows {
				f := &flow{code: p.DSCP, rip: p.Dst}
				if mapped {
					f.vip = a.cfg.Mapping[mi].VIP
				}
				a.flows[k] = f
				s.flows++
			} else {
				a.untracked++
			}
		}
	}
	if !mapped {
		return Unmapped
	}
	return Marked
}

func (a *Analyzer) addDirector(p *Packet, inSet bool) Class {
	if !p.Addrs {
		if inSet {
			return Marked
		}
		return Ignored
	}
	for _, i := range a.byVIP[p.Dst] {
		e := a.cfg.Expect[i]
		if e.Port != 0 && (!p.Ports || p.DstPort != e.Port) {
			continue
		}
		a.exp[i].clientPackets++
		if hasFlowPorts(p) {
			k := keyOf(p, p.Src, p.SrcPort, 0)
			if _, ok := a.clients[k]; ok || len(a.clients) < a.maxFlows {
				a.clients[k] = i
			}
		}
		return ToVIP
	}
	for _, i := range a.byVIP[p.Src] {
		e := a.cfg.Expect[i]
		if e.Port != 0 && (!p.Ports || p.SrcPort != e.Port) {
			continue
		}
		a.exp[i].viaDirector++
		return ReplyViaDirector
	}
	if hasFlowPorts(p) {
		if i, ok := a.clients[keyOf(p, p.Src, p.SrcPort, 0)]; ok {
			x := &a.exp[i]
			x.forwarded++
			if x.reals == nil {
				x.reals = map[netip.Addr]bool{}
			}
			x.reals[p.Dst] = true
			if p.DSCP == a.cfg.Expect[i].DSCP {
				x.right++
				return ForwardedOK
			}
			x.wrong++
			if x.wrongCodes == nil {
				x.wrongCodes = map[uint8]uint64{}
			}
			x.wrongCodes[p.DSCP]++
			return ForwardedWrong
		}
	}
	if inSet {
		return Marked
	}
	return Ignored
}

// UpdateCounters gives the module's counters read at the end of the
// capture; the report shows them and how far they moved since Config's.
// Entries are matched by (family, DSCP, local address).
func (a *Analyzer) UpdateCounters(entries []MapEntry) {
	for _, e := range entries {
		if i, ok := a.mapIdx[mapKey{famOf(e.VIP), e.DSCP, e.Local}]; ok {
			a.cfg.Mapping[i].Packets, a.cfg.Mapping[i].Bytes = e.Packets, e.Bytes
		}
	}
}

// Report is the verdict with the figures behind it.
type Report struct {
	Role string `json:"role"`
	// Codes are the DSCP codes looked at ("1-63").
	Codes string `json:"codes"`
	// Packets is every packet read; IPPackets the IPv4/IPv6 ones.
	Packets   uint64 `json:"packets"`
	IPPackets uint64 `json:"ip_packets"`
	// Marked counts packets carrying a code of the set.
	Marked uint64 `json:"marked"`
	// UntrackedFlows: flows beyond the flow limit (their replies were not
	// matched).
	UntrackedFlows uint64         `json:"untracked_flows,omitempty"`
	PerCode        []CodeReport   `json:"dscp"`
	Services       []ExpectReport `json:"services,omitempty"`
	OK             bool           `json:"ok"`
	// Problems say why the verdict is not OK, one reason each.
	Problems []string `json:"problems"`
}

// CodeReport is what was seen of one DSCP code.
type CodeReport struct {
	DSCP    uint8  `json:"dscp"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Flows   int    `json:"flows"`
	// Mappings are the table's entries for this code, with the module's
	// counters (RealServer).
	Mappings []MappingReport `json:"mappings,omitempty"`
	// Unmapped counts packets for which the table had no VIP.
	Unmapped uint64 `json:"unmapped_packets"`
	// Replies to this code's flows, by source: its VIP, the RIP the
	// request was sent to, or another address.
	RepliesFromVIP uint64 `json:"replies_from_vip"`
	RepliesFromRIP uint64 `json:"replies_from_rip"`
	RepliesOther   uint64 `json:"replies_other"`
	// FlowsAnswered counts flows with at least one reply from the VIP.
	FlowsAnswered int      `json:"flows_answered"`
	OK            bool     `json:"ok"`
	Problems      []string `json:"problems,omitempty"`
}

// MappingReport is one table entry with its counters.
type MappingReport struct {
	Local   string `json:"local"`
	VIP     string `json:"vip"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// PacketsDelta is how far the packet counter moved during the run.
	PacketsDelta uint64 `json:"packets_delta"`
}

// ExpectReport is what a director did for one service.
type ExpectReport struct {
	Service       string `json:"service"`
	DSCP          uint8  `json:"dscp"`
	ClientPackets uint64 `json:"client_packets"`
	// Forwarded are the client packets seen leaving for a real server;
	// Right carry the service's DSCP, Wrong another one.
	Forwarded   uint64   `json:"forwarded"`
	Right       uint64   `json:"right_dscp"`
	Wrong       uint64   `json:"wrong_dscp"`
	WrongCodes  []uint8  `json:"wrong_codes,omitempty"`
	Reals       []string `json:"reals"`
	ViaDirector uint64   `json:"replies_via_director"`
	OK          bool     `json:"ok"`
	Problems    []string `json:"problems,omitempty"`
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
func (a *Analyzer) Report() Report {
	r := Report{Role: a.cfg.Role.String(), Codes: a.cfg.Codes.String(), Packets: a.packets, IPPackets: a.ipPackets,
		UntrackedFlows: a.untracked, PerCode: []CodeReport{}, Problems: []string{}}
	for c := range a.codes {
		s := a.codes[c]
		if s == nil || s.packets == 0 && s.fromVIP+s.fromRIP+s.fromOther == 0 {
			continue
		}
		r.Marked += s.packets
		cr := CodeReport{DSCP: uint8(c), Packets: s.packets, Bytes: s.bytes, Flows: s.flows, Unmapped: s.unmapped,
			RepliesFromVIP: s.fromVIP, RepliesFromRIP: s.fromRIP, RepliesOther: s.fromOther, FlowsAnswered: s.answered}
		if a.cfg.Role == RealServer {
			for i, e := range a.cfg.Mapping {
				if e.DSCP != uint8(c) {
					continue
				}
				var d uint64
				if e.Packets >= a.start[i].Packets {
					d = e.Packets - a.start[i].Packets
				}
				cr.Mappings = append(cr.Mappings, MappingReport{Local: localName(e.Local), VIP: e.VIP.String(), Packets: e.Packets, Bytes: e.Bytes, PacketsDelta: d})
			}
			slices.SortFunc(cr.Mappings, func(x, y MappingReport) int { return cmp.Or(cmp.Compare(x.VIP, y.VIP), cmp.Compare(x.Local, y.Local)) })
			cr.Problems = a.codeProblems(uint8(c), s)
		}
		cr.OK = len(cr.Problems) == 0
		r.Problems = append(r.Problems, cr.Problems...)
		r.PerCode = append(r.PerCode, cr)
	}
	switch a.cfg.Role {
	case RealServer:
		if r.Marked == 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("no packet marked with DSCP %s seen (%d packets read): nothing reached this host through an L3 DSR director", r.Codes, a.packets))
		}
	case Director:
		var fwd uint64
		for i, e := range a.cfg.Expect {
			x := a.exp[i]
			er := ExpectReport{Service: e.String(), DSCP: e.DSCP, ClientPackets: x.clientPackets, Forwarded: x.forwarded,
				Right: x.right, Wrong: x.wrong, Reals: sortedAddrs(x.reals), ViaDirector: x.viaDirector}
			for c := range x.wrongCodes {
				er.WrongCodes = append(er.WrongCodes, c)
			}
			slices.Sort(er.WrongCodes)
			fwd += x.forwarded
			if x.clientPackets > 0 && x.forwarded == 0 {
				er.Problems = append(er.Problems, fmt.Sprintf("%s: %d packets from clients, but none seen leaving for a real server", er.Service, x.clientPackets))
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
				er.Problems = append(er.Problems, fmt.Sprintf("%s: %d replies from the VIP left through the director: the real servers' replies should go straight to the clients", er.Service, x.viaDirector))
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
			r.Problems = append(r.Problems, fmt.Sprintf("no packet for %s seen leaving for a real server (%d packets read)", strings.Join(names, ", "), a.packets))
		}
	}
	r.OK = len(r.Problems) == 0
	return r
}

func (a *Analyzer) codeProblems(c uint8, s *codeState) []string {
	var out []string
	if s.unmapped > 0 {
		to := ""
		if len(s.unmappedDst) > 0 {
			to = " to " + strings.Join(sortedAddrs(s.unmappedDst), ", ")
		}
		out = append(out, fmt.Sprintf("DSCP %d: %d packets%s, but the table maps no VIP to DSCP %d: add it with 'l3dsr rule add --dscp %d --vip VIP'", c, s.unmapped, to, c, c))
	}
	vips := strings.Join(sortedAddrs(s.vips), ", ")
	if s.fromRIP > 0 {
		out = append(out, fmt.Sprintf("DSCP %d: %d replies left from the RIP (%s) instead of the VIP %s: the destination was not rewritten before the socket (is the map-mode rule in raw PREROUTING?)",
			c, s.fromRIP, strings.Join(sortedAddrs(s.ripSources), ", "), cmp.Or(vips, "(none)")))
	}
	if s.fromOther > 0 {
		out = append(out, fmt.Sprintf("DSCP %d: %d replies left from %s, neither the VIP %s nor the RIP", c, s.fromOther, strings.Join(sortedAddrs(s.otherSources), ", "), cmp.Or(vips, "(none)")))
	}
	if s.unmapped == 0 && s.fromVIP == 0 && s.fromRIP == 0 && s.fromOther == 0 {
		out = append(out, fmt.Sprintf("DSCP %d: %d packets in %d flows, but no reply from the VIP %s seen: is a service listening on the VIP, and does the reply leave by this interface?", c, s.packets, s.flows, cmp.Or(vips, "(none)")))
	}
	return out
}

// Judge is the verdict over a list of decoded packets: NewAnalyzer, Add
// each, Report.
func Judge(cfg Config, pkts []Packet) (Report, error) {
	a, err := NewAnalyzer(cfg)
	if err != nil {
		return Report{}, err
	}
	for i := range pkts {
		a.Add(&pkts[i])
	}
	return a.Report(), nil
}
