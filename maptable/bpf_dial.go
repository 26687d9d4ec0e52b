package maptable

import "github.com/l3dsr/l3dsr/internal/bpfdsr"

// This file is the one place maptable calls internal/bpfdsr.

var bpfErrNotFound, bpfErrExists = bpfdsr.ErrNotFound, bpfdsr.ErrExists

func bpfInstalled() (bool, error) { return bpfdsr.Installed() }

func openBPF() (bpfMaps, error) {
	t, err := bpfdsr.Open()
	if err != nil {
		return nil, err
	}
	return bpfdsrMaps{t}, nil
}

// bpfdsrMaps is *bpfdsr.Table in this package's types (same fields).
type bpfdsrMaps struct{ *bpfdsr.Table }

func (m bpfdsrMaps) Get(k bpfKey) (bpfValue, error) {
	v, err := m.Table.Get(bpfdsr.Key(k))
	return bpfValue(v), err
}

func (m bpfdsrMaps) Put(k bpfKey, v bpfValue, replace bool) error {
	return m.Table.Put(bpfdsr.Key(k), bpfdsr.Value(v), replace)
}

func (m bpfdsrMaps) Delete(k bpfKey) error { return m.Table.Delete(bpfdsr.Key(k)) }

func (m bpfdsrMaps) List() ([]bpfItem, error) {
	items, err := m.Table.List()
	out := make([]bpfItem, len(items))
	for i, it := range items {
		out[i] = bpfItem{bpfKey(it.Key), bpfValue(it.Value)}
	}
	return out, err
}

func (m bpfdsrMaps) Replace(items []bpfItem) error {
	in := make([]bpfdsr.Item, len(items))
	for i, it := range items {
		in[i] = bpfdsr.Item{Key: bpfdsr.Key(it.Key), Value: bpfdsr.Value(it.Value)}
	}
	return m.Table.Replace(in)
}

func (m bpfdsrMaps) Totals() (bpfTotals, error) {
	t, err := m.Table.Totals()
	return bpfTotals(t), err
}
