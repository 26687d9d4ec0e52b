package dscpmark

import (
	"errors"
	"fmt"
	"github.com/l3dsr/l3dsr/dsrtypes"
	"reflect"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// state is what table inet l3dsr holds, as far as this package cares.
type state struct {
	table  bool
	maps   map[string]bool
	chains map[string]bool // ours (prerouting, dscp4_N, dscp6_N) -> holds exactly our rules
	marks  map[key]uint8
}

func emptyState() *state {
	return &state{maps: map[string]bool{}, chains: map[string]bool{}, marks: map[key]uint8{}}
}

// readState reads our table. A missing table is an empty state.
func readState(c *nftables.Conn) (*state, error) {
	st := emptyState()
	if _, err := c.ListTableOfFamily(TableName, nftables.TableFamilyINet); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return st, nil
		}
		return nil, fmt.Errorf("looking for table inet %s: %w", TableName, err)
	}
	st.table = true

	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("listing the chains of table inet %s: %w", TableName, err)
	}
	for _, ch := range chains {
		if ch.Table == nil || ch.Table.Name != TableName {
			continue
		}
		want, ours := chainRules(ch.Name)
		if !ours {
			continue // someone else's chain in our table: not touched
		}
		if err := checkChainKind(ch); err != nil {
			return nil, err
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return nil, fmt.Errorf("listing the rules of chain %s in table inet %s: %w", ch.Name, TableName, err)
		}
		st.chains[ch.Name] = rulesEqual(rules, want)
	}

	sets, err := c.GetSets(table)
	if err != nil {
		return nil, fmt.Errorf("listing the maps of table inet %s: %w", TableName, err)
	}
	for _, s := range sets {
		if s.Name != mapVIP4 && s.Name != mapVIP6 {
			continue
		}
		if !s.IsMap {
			return nil, fmt.Errorf("table inet %s: %s is a set, not a verdict map: it was not made by this package; delete the table (it is rebuilt on the next change)", TableName, s.Name)
		}
		st.maps[s.Name] = true
		if err := readElements(c, s, st.marks); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// checkChainKind refuses a chain of ours that is of the wrong kind: such a
// chain cannot be repaired by replacing its rules.
func checkChainKind(ch *nftables.Chain) error {
	want := chainObj(ch.Name)
	var bad string
	switch {
	case want.Hooknum == nil && ch.Hooknum != nil:
		bad = "is a base chain, want a regular chain"
	case want.Hooknum != nil && (ch.Hooknum == nil || ch.Priority == nil):
		bad = "is a regular chain, want a base chain"
	case want.Hooknum != nil && (*ch.Hooknum != *want.Hooknum || *ch.Priority != *want.Priority || ch.Type != want.Type):
		bad = fmt.Sprintf("has type %s hook %d priority %d, want type filter hook prerouting priority mangle (-150)", ch.Type, *ch.Hooknum, *ch.Priority)
	default:
		return nil
	}
	return fmt.Errorf("table inet %s: chain %s %s: it was not made by this package; delete the table (it is rebuilt on the next change)", TableName, ch.Name, bad)
}

func rulesEqual(got []*nftables.Rule, want [][]expr.Any) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !reflect.DeepEqual(got[i].Exprs, want[i]) {
			return false
		}
	}
	return true
}

func readElements(c *nftables.Conn, s *nftables.Set, into map[key]uint8) error {
	s.Table = table
	elems, err := c.GetSetElements(s)
	if err != nil {
		return fmt.Errorf("listing map %s of table inet %s: %w", s.Name, TableName, err)
	}
	is4 := s.Name == mapVIP4
	for _, e := range elems {
		k, err := parseElemKey(e.Key)
		if err == nil && k.vip.Is4() != is4 {
			err = fmt.Errorf("a key of the other address family")
		}
		if err != nil {
			return fmt.Errorf("table inet %s, map %s: element % x: %w", TableName, s.Name, e.Key, err)
		}
		code, chain, err := parseVerdict(e.Val)
		if err != nil {
			return fmt.Errorf("table inet %s, map %s: element %s: decoding its verdict: %w", TableName, s.Name, k, err)
		}
		cis4, d, ok := parseDSCPChain(chain)
		if code != unix.NFT_GOTO || !ok || cis4 != is4 {
			return fmt.Errorf("table inet %s, map %s: element %s has verdict %q, want \"goto %s\" with a code from 0 to %d: it was not added by this package; delete it (nft delete element inet %s %s { ... })",
				TableName, s.Name, k, verdictString(code, chain), dscpChain(is4, 0)[:6]+"N", dsrtypes.MaxDSCP, TableName, s.Name)
		}
		into[k] = d
	}
	return nil
}
