package dscpmark

import (
	"cmp"
	"fmt"
	"slices"
)

type changeKind int

const (
	addTable   changeKind = iota
	addMap                // an empty verdict map
	addChain              // a chain of ours with its rules
	resetChain            // flush a chain of ours and put its rules back
	delElem               // before addElem: a key whose code changes is deleted, then added
	addElem               // after the chains it jumps to exist
	delChain              // after the elements that jumped to it are gone
)

// change is one step of a batch. Its String is for tests and errors.
type change struct {
	kind changeKind
	name string // map or chain
	mark Mark   // elements
}

func (c change) String() string {
	switch c.kind {
	case addTable:
		return "add table inet " + TableName
	case addMap:
		return "add map " + c.name
	case addChain:
		return "add chain " + c.name
	case resetChain:
		return "reset chain " + c.name
	case delElem:
		return fmt.Sprintf("delete element %s %s : goto %s", c.name, c.mark.key(), dscpChain(c.mark.VIP.Is4(), c.mark.DSCP))
	case addElem:
		return fmt.Sprintf("add element %s %s : goto %s", c.name, c.mark.key(), dscpChain(c.mark.VIP.Is4(), c.mark.DSCP))
	case delChain:
		return "delete chain " + c.name
	}
	return fmt.Sprintf("change(%d)", int(c.kind))
}

// plan returns the changes, in batch order, that make a table in state st
// hold exactly the marks want: the table's skeleton (maps, the prerouting
// chain) created or repaired, one chain per family and code in use,
// elements added and deleted, chains of codes no longer used deleted.
// Nothing at all when st already is that (and no table is created for an
// empty want).
func plan(st *state, want map[key]uint8) []change {
	if !st.table && len(want) == 0 {
		return nil
	}
	var out []change
	if !st.table {
		out = append(out, change{kind: addTable})
	}
	for _, m := range []string{mapVIP4, mapVIP6} {
		if !st.maps[m] {
			out = append(out, change{kind: addMap, name: m})
		}
	}

	needed := map[string]bool{chainPrerouting: true}
	for k, d := range want {
		needed[dscpChain(k.vip.Is4(), d)] = true
	}
	for _, name := range sortedChains(needed) {
		ok, exists := st.chains[name]
		switch {
		case !exists:
			out = append(out, change{kind: addChain, name: name})
		case !ok:
			out = append(out, change{kind: resetChain, name: name})
		}
	}

	var dels, adds []Mark
	for k, d := range st.marks {
		if w, ok := want[k]; !ok || w != d {
			dels = append(dels, Mark{VIP: k.vip, Proto: k.proto, Port: k.port, DSCP: d})
		}
	}
	for k, d := range want {
		if old, ok := st.marks[k]; !ok || old != d {
			adds = append(adds, Mark{VIP: k.vip, Proto: k.proto, Port: k.port, DSCP: d})
		}
	}
	sortMarks(dels)
	sortMarks(adds)
	for _, m := range dels {
		out = append(out, change{kind: delElem, name: mapName(m.VIP.Is4()), mark: m})
	}
	for _, m := range adds {
		out = append(out, change{kind: addElem, name: mapName(m.VIP.Is4()), mark: m})
	}

	stale := map[string]bool{}
	for name := range st.chains {
		if _, _, ok := parseDSCPChain(name); ok && !needed[name] {
			stale[name] = true
		}
	}
	for _, name := range sortedChains(stale) {
		out = append(out, change{kind: delChain, name: name})
	}
	return out
}

// sortedChains orders prerouting first, then IPv4's code chains by code,
// then IPv6's.
func sortedChains(set map[string]bool) []string {
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	rank := func(n string) (int, int) {
		is4, d, ok := parseDSCPChain(n)
		switch {
		case !ok:
			return 0, 0
		case is4:
			return 1, int(d)
		}
		return 2, int(d)
	}
	slices.SortFunc(names, func(a, b string) int {
		ra, da := rank(a)
		rb, db := rank(b)
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(da, db), cmp.Compare(a, b))
	})
	return names
}
