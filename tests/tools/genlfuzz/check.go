package main

import (
	"fmt"
	"slices"
	"strings"
)

// The final checks, run with the workers stopped (traffic may go on). The
// comparisons are functions of what was read, so that check_test.go can
// show each one failing.

// table reads the table over s: a dump (retried while the kernel flags it
// interrupted) or the totals.
type table struct{ s link }

func (t table) dump() ([]dumpEntry, error) {
	for range 5 {
		a, err := t.s.exchange(Request{Flags: flagRequest | flagDump, Body: genlHeader(cmdMapGet, genlVersion), Desc: "MAP_GET dump (check)"})
		if err != nil {
			return nil, err
		}
		if a.errno != 0 {
			return nil, fmt.Errorf("dump: errno %d (%v) %s", int(a.errno), a.errno, a.text)
		}
		if a.intr {
			continue
		}
		var es []dumpEntry
		for _, r := range a.replies {
			es = append(es, r.entries...)
		}
		return es, nil
	}
	return nil, fmt.Errorf("dump: interrupted 5 times with the workers stopped")
}

func (t table) stats() (stats, error) {
	a, err := t.s.exchange(Request{Flags: flagRequest, Body: genlHeader(cmdStatsGet, genlVersion), Desc: "STATS_GET (check)"})
	if err != nil {
		return stats{}, err
	}
	if a.errno != 0 || len(a.replies) != 1 || a.replies[0].stats == nil {
		return stats{}, fmt.Errorf("STATS_GET: errno %d, %d replies, want one with statistics", int(a.errno), len(a.replies))
	}
	return *a.replies[0].stats, nil
}

// command sends a request that must succeed.
func (t table) command(cmd uint8, attrs []byte) error {
	a, err := t.s.exchange(Request{Flags: flagRequest | flagAck, Body: append(genlHeader(cmd, genlVersion), attrs...)})
	if err != nil {
		return err
	}
	if a.errno != 0 {
		return fmt.Errorf("command %d: errno %d (%v) %s", cmd, int(a.errno), a.errno, a.text)
	}
	return nil
}

// index is a dump by key; a key twice is an error.
func index(d []dumpEntry) (map[string]dumpEntry, error) {
	m := map[string]dumpEntry{}
	for _, e := range d {
		if _, dup := m[e.keyString()]; dup {
			return nil, fmt.Errorf("key %s is in the dump twice", e.keyString())
		}
		m[e.keyString()] = e
	}
	return m, nil
}

// dumpConsistent: two dumps in a row hold the same entries, and as many
// as the totals read beside each say.
func dumpConsistent(d1, d2 []dumpEntry, s1, s2 stats) error {
	m1, err := index(d1)
	if err != nil {
		return err
	}
	m2, err := index(d2)
	if err != nil {
		return err
	}
	var diffs []string
	for k, e := range m1 {
		if e2, ok := m2[k]; !ok {
			diffs = append(diffs, "-"+k)
		} else if e.valueString() != e2.valueString() {
			diffs = append(diffs, fmt.Sprintf("%s: %s then %s", k, e.valueString(), e2.valueString()))
		}
	}
	for k := range m2 {
		if _, ok := m1[k]; !ok {
			diffs = append(diffs, "+"+k)
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		return fmt.Errorf("two dumps in a row differ: %s", strings.Join(diffs, ", "))
	}
	if len(d1) != int(s1.Entries) || len(d2) != int(s2.Entries) {
		return fmt.Errorf("the dumps hold %d and %d entries, STATS_GET says %d and %d", len(d1), len(d2), s1.Entries, s2.Entries)
	}
	return nil
}

// countsAddUp: the rewritten total never goes down (start, s1, s2 in
// that order), covers every entry's packets (d2 read before s2), and no
// entry's counters go down between two dumps.
func countsAddUp(start uint64, s1, s2 stats, d1, d2 []dumpEntry) error {
	if start > s1.Rewritten || s1.Rewritten > s2.Rewritten {
		return fmt.Errorf("the rewritten total went down: %d at the start, then %d, then %d", start, s1.Rewritten, s2.Rewritten)
	}
	var sum uint64
	for _, e := range d2 {
		sum += e.Packets
	}
	if sum > s2.Rewritten {
		return fmt.Errorf("the entries counted %d packets, more than the rewritten total %d", sum, s2.Rewritten)
	}
	m2, err := index(d2)
	if err != nil {
		return err
	}
	for _, e := range d1 {
		if e2, ok := m2[e.keyString()]; ok && (e2.Packets < e.Packets || e2.Bytes < e.Bytes) {
			return fmt.Errorf("entry %s went from %d packets %d bytes to %d packets %d bytes", e.keyString(), e.Packets, e.Bytes, e2.Packets, e2.Bytes)
		}
	}
	return nil
}

// flushed: the table is empty after a flush, in the dump and the totals.
func flushed(d []dumpEntry, s stats) error {
	if len(d) != 0 || s.Entries != 0 {
		return fmt.Errorf("after a flush the dump holds %d entries and STATS_GET says %d", len(d), s.Entries)
	}
	return nil
}
