package bpfdsr

import (
	"fmt"

	"github.com/cilium/ebpf"
)

// presentIndex is a family's slot in the present map.
func presentIndex(family uint8) uint32 {
	if family == 6 {
		return 1
	}
	return 0
}

// presentOf is what the program may find in a table with these keys.
func presentOf(sets ...[]l3dsrL3dsrKey) [2]l3dsrL3dsrPresent {
	var p [2]l3dsrL3dsrPresent
	for _, keys := range sets {
		for _, k := range keys {
			addPresent(&p[presentIndex(k.Family)], k.Dscp)
		}
	}
	return p
}

func addPresent(p *l3dsrL3dsrPresent, dscp uint8) {
	if dscp == dscpAny {
		p.AnyDscp = 1
		return
	}
	p.Codes |= 1 << (dscp & 63)
}

func (t *Table) writePresent(p [2]l3dsrL3dsrPresent) error {
	for i := range p {
		if err := t.present.Put(uint32(i), p[i]); err != nil {
			return fmt.Errorf("writing the present map: %w", err)
		}
	}
	return nil
}

// orPresent adds a new key's code before the program can need it: present
// only grows here, so it stays a superset.
func (t *Table) orPresent(k Key) error {
	var p l3dsrL3dsrPresent
	i := presentIndex(k.Family)
	if err := t.present.Lookup(i, &p); err != nil {
		return fmt.Errorf("reading the present map: %w", err)
	}
	addPresent(&p, k.DSCP)
	if err := t.present.Put(i, p); err != nil {
		return fmt.Errorf("writing the present map: %w", err)
	}
	return nil
}

// setPresent recomputes present from m, after entries went.
func (t *Table) setPresent(m *ebpf.Map) error {
	keys, _, err := dump(m)
	if err != nil {
		return err
	}
	return t.writePresent(presentOf(keys))
}
