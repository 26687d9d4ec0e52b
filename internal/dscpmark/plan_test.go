package dscpmark

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func k4(vip string, port uint16) key {
	return key{netip.MustParseAddr(vip), unix.IPPROTO_TCP, port}
}

// fullState is a healthy table holding marks.
func fullState(marks map[key]uint8) *state {
	st := emptyState()
	st.table = true
	st.maps[mapVIP4], st.maps[mapVIP6] = true, true
	st.chains[chainPrerouting] = true
	for k, d := range marks {
		st.chains[dscpChain(k.vip.Is4(), d)] = true
		st.marks[k] = d
	}
	return st
}

func planText(st *state, want map[key]uint8) string {
	var out []string
	for _, c := range plan(st, want) {
		out = append(out, c.String())
	}
	return strings.Join(out, "\n")
}

func TestPlan(t *testing.T) {
	a, b := k4("10.80.0.1", 80), k4("10.80.0.2", 443)
	v6 := key{netip.MustParseAddr("2001:db8:80::1"), unix.IPPROTO_UDP, 7}
	broken := fullState(map[key]uint8{a: 21})
	broken.chains[chainPrerouting] = false
	broken.chains["dscp4_21"] = false
	stale := fullState(map[key]uint8{a: 21})
	stale.chains["dscp4_9"] = true
	stale.chains["mine"] = true
	noMaps := fullState(nil)
	delete(noMaps.maps, mapVIP6)
	delete(noMaps.chains, chainPrerouting)

	for _, c := range []struct {
		name string
		st   *state
		want map[key]uint8
		plan []string
	}{
		{"nothing-no-table", emptyState(), nil, nil},
		{"first-marks", emptyState(), map[key]uint8{a: 21, v6: 22, b: 3}, []string{
			"add table inet l3dsr",
			"add map vip4",
			"add map vip6",
			"add chain prerouting",
			"add chain dscp4_3",
			"add chain dscp4_21",
			"add chain dscp6_22",
			"add element vip4 tcp 10.80.0.1:80 : goto dscp4_21",
			"add element vip4 tcp 10.80.0.2:443 : goto dscp4_3",
			"add element vip6 udp [2001:db8:80::1]:7 : goto dscp6_22",
		}},
		{"same", fullState(map[key]uint8{a: 21, v6: 22}), map[key]uint8{a: 21, v6: 22}, nil},
		{"empty-table-stays", fullState(nil), nil, nil},
		{"add-shares-chain", fullState(map[key]uint8{a: 21}), map[key]uint8{a: 21, b: 21}, []string{
			"add element vip4 tcp 10.80.0.2:443 : goto dscp4_21",
		}},
		{"code-change", fullState(map[key]uint8{a: 21}), map[key]uint8{a: 30}, []string{
			"add chain dscp4_30",
			"delete element vip4 tcp 10.80.0.1:80 : goto dscp4_21",
			"add element vip4 tcp 10.80.0.1:80 : goto dscp4_30",
			"delete chain dscp4_21",
		}},
		{"last-user-gone", fullState(map[key]uint8{a: 21, v6: 22}), map[key]uint8{a: 21}, []string{
			"delete element vip6 udp [2001:db8:80::1]:7 : goto dscp6_22",
			"delete chain dscp6_22",
		}},
		{"repair", broken, map[key]uint8{a: 21}, []string{
			"reset chain prerouting",
			"reset chain dscp4_21",
		}},
		{"stale-chain-not-foreign", stale, map[key]uint8{a: 21}, []string{
			"delete chain dscp4_9",
		}},
		{"skeleton-gaps", noMaps, nil, []string{
			"add map vip6",
			"add chain prerouting",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := planText(c.st, c.want)
			if want := strings.Join(c.plan, "\n"); got != want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestSortedChains(t *testing.T) {
	got := sortedChains(map[string]bool{"dscp6_1": true, "dscp4_10": true, "prerouting": true, "dscp4_9": true})
	want := []string{"prerouting", "dscp4_9", "dscp4_10", "dscp6_1"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
