package maptable

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/l3dsr/l3dsr/dsrtypes"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/genetlink/genltest"
	"github.com/mdlayher/netlink"
)

// MODE_SET carries L3DSR_A_MODE as one u8, acked; STATS_GET's reply gives
// mode and hooks.
func TestSetModeOnTheWire(t *testing.T) {
	for _, tt := range []struct {
		mode Mode
		want []byte
	}{
		{ModeDirect, nla(attrMode, u8(1))},
		{ModeRule, nla(attrMode, u8(0))},
	} {
		calls := 0
		c := genlClient(t, genltest.CheckRequest(testFamilyID, cmdModeSet, netlink.Request|netlink.Acknowledge,
			func(greq genetlink.Message, _ netlink.Message) ([]genetlink.Message, error) {
				calls++
				if greq.Header.Version != 3 {
					t.Errorf("genl version %d, want 3", greq.Header.Version)
				}
				if !bytes.Equal(greq.Data, tt.want) {
					t.Errorf("SetMode(%s) sent % x, want % x", tt.mode, greq.Data, tt.want)
				}
				return []genetlink.Message{{}}, nil // an ack
			}))
		if err := c.SetMode(tt.mode); err != nil || calls != 1 {
			t.Errorf("SetMode(%s) = %v after %d requests, want nil after 1", tt.mode, err, calls)
		}
	}
}

func TestStatsModeAndHooks(t *testing.T) {
	stats := nla(attrStats|nested, nla(statsAttrEntries, u32(2)))
	for _, tt := range []struct {
		name  string
		extra []byte
		mode  Mode
		hooks Hooks
		path  string
	}{
		{"version 2 module", nil, ModeRule, 0, "iptables rule (-t raw PREROUTING -j DADDR --map)"},
		{"rule", append(nla(attrMode, u8(0)), nla(attrHooks, u32(0))...), ModeRule, 0, "iptables rule (-t raw PREROUTING -j DADDR --map)"},
		{"direct both", append(nla(attrMode, u8(1)), nla(attrHooks, u32(3))...), ModeDirect, 3, "direct hook (IPv4, IPv6)"},
		{"direct IPv6", append(nla(attrMode, u8(1)), nla(attrHooks, u32(2))...), ModeDirect, 2, "direct hook (IPv6)"},
		{"direct empty", append(nla(attrMode, u8(1)), nla(attrHooks, u32(0))...), ModeDirect, 0, "direct hook (none)"},
	} {
		c := genlClient(t, genltest.CheckRequest(testFamilyID, cmdStatsGet, netlink.Request,
			func(genetlink.Message, netlink.Message) ([]genetlink.Message, error) {
				return []genetlink.Message{{Header: genetlink.Header{Command: cmdStatsGet, Version: 3}, Data: append(append([]byte{}, stats...), tt.extra...)}}, nil
			}))
		st, err := c.Stats()
		if err != nil || st.Mode != tt.mode || st.Hooks != tt.hooks || st.Entries != 2 || st.Path() != tt.path {
			t.Errorf("%s: Stats = %+v (path %q), %v; want mode %s hooks %d path %q", tt.name, st, st.Path(), err, tt.mode, tt.hooks, tt.path)
		}
	}
}

// Against the fake module: direct registers the hook of each family with
// entries; a version 2 module refuses direct in the words of the contract
// and takes rule as the no-op it is.
func TestSetModeFakeKernel(t *testing.T) {
	k := newFakeKernel(t)
	c := k.client()
	must(t, c.Add(Entry{DSCP: 1, VIP: netip.MustParseAddr("2001:db8::1")}, false))
	must(t, c.SetMode(ModeDirect))
	st, err := c.Stats()
	if err != nil || st.Mode != ModeDirect || !st.Hooks.Has(dsrtypes.IPv6) || st.Hooks.Has(dsrtypes.IPv4) {
		t.Errorf("after direct: %+v, %v; want direct with the IPv6 hook only", st, err)
	}
	must(t, c.SetMode(ModeRule))
	if st, _ := c.Stats(); st.Mode != ModeRule || st.Hooks != 0 {
		t.Errorf("after rule: %+v, want rule without hooks", st)
	}

	old := newFakeKernel(t)
	old.v2 = true
	oc := old.client()
	err = oc.SetMode(ModeDirect)
	if !errors.Is(err, ErrNoDirect) || !strings.Contains(err.Error(), "has no direct path (genl version 2): load this release's module") {
		t.Errorf("direct on a version 2 module: %v, want ErrNoDirect", err)
	}
	if err := oc.SetMode(ModeRule); err != nil {
		t.Errorf("rule on a version 2 module: %v, want nil (it is always in rule mode)", err)
	}
	if err := c.SetMode("fast"); err == nil || !strings.Contains(err.Error(), `"fast" is not one of rule, direct`) {
		t.Errorf("SetMode(fast) = %v", err)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"rule", "direct"} {
		if m, err := ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%s) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "bpf", "Direct"} {
		if _, err := ParseMode(s); err == nil || !strings.Contains(err.Error(), `"`+s+`" is not one of rule, direct`) {
			t.Errorf("ParseMode(%q) = %v, want an error naming it and the choices", s, err)
		}
	}
}

func TestBPFHasNoDirectMode(t *testing.T) {
	tab := &bpfTable{m: newFakeBPF()}
	err := tab.SetMode(ModeDirect)
	if err == nil || err.Error() != "the BPF backend has no iptables rule to skip: direct mode is for the module" {
		t.Errorf("bpf SetMode = %v", err)
	}
}
