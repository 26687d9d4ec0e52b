package director

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"slices"

	"github.com/l3dsr/l3dsr/internal/dscpmark"
	"github.com/l3dsr/l3dsr/internal/ipvs"
)

// fakeIPVS keeps services and destinations as the kernel would, keyed like
// it; a service's destinations in the kernel's list order, newest first.
type fakeIPVS struct {
	svcs  []ipvs.Service
	dests map[Key][]ipvs.Destination
	fail  map[string]error // by method name
	// failNth fails the nth call from now of a method (1: the next), once.
	failNth map[string]int
	calls   []string
	// drainBy is how many active connections each destination loses at
	// each read of it: connections ending while drain --wait polls.
	drainBy uint32
}

func newFakeIPVS() *fakeIPVS {
	return &fakeIPVS{dests: map[Key][]ipvs.Destination{}, fail: map[string]error{}}
}

func skey(s ipvs.Service) Key { return Key{VIP: s.Address, Port: s.Port, Proto: s.Protocol} }

func (f *fakeIPVS) call(name string) error {
	f.calls = append(f.calls, name)
	if n, ok := f.failNth[name]; ok {
		if f.failNth[name] = n - 1; n == 1 {
			delete(f.failNth, name)
			return fmt.Errorf("injected failure of %s", name)
		}
	}
	return f.fail[name]
}

func (f *fakeIPVS) idx(s ipvs.Service) int {
	return slices.IndexFunc(f.svcs, func(o ipvs.Service) bool { return skey(o) == skey(s) })
}

func (f *fakeIPVS) Services() ([]ipvs.Service, error) {
	return slices.Clone(f.svcs), f.call("Services")
}

func (f *fakeIPVS) Service(s ipvs.Service) (ipvs.Service, error) {
	if err := f.call("Service"); err != nil {
		return ipvs.Service{}, err
	}
	if i := f.idx(s); i >= 0 {
		return f.svcs[i], nil
	}
	return ipvs.Service{}, fmt.Errorf("ipvs: get service %v: %w", s, ipvs.ErrNotFound)
}

func (f *fakeIPVS) CreateService(s ipvs.Service) error {
	if err := f.call("CreateService"); err != nil {
		return err
	}
	if f.idx(s) >= 0 {
		return ipvs.ErrExists
	}
	f.svcs = append(f.svcs, s)
	return nil
}

// at records the call name and passes on its failure, or ErrNotFound when
// the object it looks for is not there (i < 0).
func (f *fakeIPVS) at(name string, i int) (int, error) {
	if err := f.call(name); err != nil {
		return i, err
	}
	if i < 0 {
		return i, ipvs.ErrNotFound
	}
	return i, nil
}

func (f *fakeIPVS) UpdateService(s ipvs.Service) error {
	i, err := f.at("UpdateService", f.idx(s))
	if err == nil {
		f.svcs[i] = s
	}
	return err
}

func (f *fakeIPVS) RemoveService(s ipvs.Service) error {
	i, err := f.at("RemoveService", f.idx(s))
	if err == nil {
		f.svcs = slices.Delete(f.svcs, i, i+1)
		delete(f.dests, skey(s))
	}
	return err
}

func (f *fakeIPVS) Destinations(s ipvs.Service) ([]ipvs.Destination, error) {
	out := slices.Clone(f.dests[skey(s)])
	for i := range f.dests[skey(s)] {
		d := &f.dests[skey(s)][i]
		d.ActiveConns -= min(d.ActiveConns, f.drainBy)
	}
	return out, f.call("Destinations")
}

func (f *fakeIPVS) didx(s ipvs.Service, d ipvs.Destination) int {
	return slices.IndexFunc(f.dests[skey(s)], func(o ipvs.Destination) bool { return o.Address == d.Address && o.Port == d.Port })
}

func (f *fakeIPVS) CreateDestination(s ipvs.Service, d ipvs.Destination) error {
	if _, err := f.at("CreateDestination", f.idx(s)); err != nil {
		return err
	}
	if f.didx(s, d) >= 0 {
		return ipvs.ErrExists
	}
	// As the kernel: __ip_vs_update_dest puts a new destination at the
	// head of the service's list (list_add_rcu), which dumps and ip_vs_mh
	// walk head first.
	f.dests[skey(s)] = slices.Insert(f.dests[skey(s)], 0, d)
	return nil
}

func (f *fakeIPVS) UpdateDestination(s ipvs.Service, d ipvs.Destination) error {
	i, err := f.at("UpdateDestination", f.didx(s, d))
	if err == nil {
		f.dests[skey(s)][i] = d
	}
	return err
}

func (f *fakeIPVS) RemoveDestination(s ipvs.Service, d ipvs.Destination) error {
	i, err := f.at("RemoveDestination", f.didx(s, d))
	if err == nil {
		f.dests[skey(s)] = slices.Delete(f.dests[skey(s)], i, i+1)
	}
	return err
}

type fakeMarks struct {
	marks   []dscpmark.Mark
	fail    map[string]error
	removed bool
	// calls counts the requests by method name: each is one nft batch or dump.
	calls map[string]int
}

func (f *fakeMarks) call(name string) error {
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[name]++
	return f.fail[name]
}

func mkey(m dscpmark.Mark) dscpmark.Mark { m.DSCP = 0; return m }

func (f *fakeMarks) idx(m dscpmark.Mark) int {
	return slices.IndexFunc(f.marks, func(o dscpmark.Mark) bool { return mkey(o) == mkey(m) })
}

func (f *fakeMarks) List() ([]dscpmark.Mark, error) { return slices.Clone(f.marks), f.call("List") }

func (f *fakeMarks) Add(ms ...dscpmark.Mark) error {
	if err := f.call("Add"); err != nil {
		return err
	}
	for _, m := range ms {
		if i := f.idx(m); i >= 0 {
			if f.marks[i] != m {
				return fmt.Errorf("conflict with DSCP %d", f.marks[i].DSCP)
			}
			continue
		}
		f.marks = append(f.marks, m)
	}
	return nil
}

func (f *fakeMarks) Replace(m dscpmark.Mark) error {
	if err := f.call("Replace"); err != nil {
		return err
	}
	i := f.idx(m)
	if i < 0 {
		return dscpmark.ErrNotFound
	}
	f.marks[i] = m
	return nil
}

func (f *fakeMarks) Del(ms ...dscpmark.Mark) error {
	if err := f.call("Del"); err != nil {
		return err
	}
	for _, m := range ms {
		i := f.idx(m)
		if i < 0 {
			return dscpmark.ErrNotFound
		}
		f.marks = slices.Delete(f.marks, i, i+1)
	}
	return nil
}

func (f *fakeMarks) Remove() error {
	f.marks, f.removed = nil, true
	return f.call("Remove")
}

type fakeHost struct {
	local   map[netip.Addr]bool // true: ours
	sysctls map[string]string
	failAdd error
	// nets are the director's subnets, as subnets gives them.
	nets    []netip.Prefix
	netsErr error
	// dumps counts the address dumps.
	dumps int
}

func (h *fakeHost) subnets() ([]netip.Prefix, error) { return h.nets, h.netsErr }

func newFakeHost() *fakeHost {
	return &fakeHost{local: map[netip.Addr]bool{}, nets: []netip.Prefix{
		netip.MustParsePrefix("10.1.0.0/24"), netip.MustParsePrefix("2001:db8:1::/64")}, sysctls: map[string]string{
		"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0", "net.ipv4.vs.conntrack": "0",
		"net.ipv4.vs.expire_nodest_conn": "0", "net.ipv4.vs.expire_quiescent_template": "0",
		"net.ipv4.vs.sloppy_tcp": "0", "net.ipv4.vs.sloppy_sctp": "0",
	}}
}

func (h *fakeHost) localAddrs() (map[netip.Addr]bool, error) {
	h.dumps++
	return maps.Clone(h.local), nil
}

func (h *fakeHost) addVIP(a netip.Addr) error {
	if h.failAdd != nil {
		return h.failAdd
	}
	h.local[a] = true
	return nil
}

func (h *fakeHost) delVIP(a netip.Addr) error {
	if !h.local[a] {
		return errors.New("not ours")
	}
	delete(h.local, a)
	return nil
}

func (h *fakeHost) sysctl(name string) (string, error) {
	v, ok := h.sysctls[name]
	if !ok {
		return "", fmt.Errorf("sysctl %s: %w", name, fs.ErrNotExist)
	}
	return v, nil
}

func (h *fakeHost) setSysctl(name, value string) error {
	h.sysctls[name] = value
	return nil
}

type fakes struct {
	ipvs  *fakeIPVS
	marks *fakeMarks
	host  *fakeHost
	d     *Director
}

func newFakes() *fakes {
	f := &fakes{ipvs: newFakeIPVS(), marks: &fakeMarks{fail: map[string]error{}}, host: newFakeHost()}
	f.d = &Director{ipvs: f.ipvs, marks: f.marks, host: f.host}
	return f
}

func (f *fakeMarks) Sync(ms []dscpmark.Mark) (added, removed []dscpmark.Mark, err error) {
	if err := f.call("Sync"); err != nil {
		return nil, nil, err
	}
	f.marks = slices.Clone(ms)
	return nil, nil, nil
}
