package main

import (
	"net/netip"
	"strings"
	"testing"
)

func ent(dscp uint8, vip string, packets uint64) dumpEntry {
	return dumpEntry{Family: 2, DSCP: dscp, VIP: netip.MustParseAddr(vip), DSCPSet: -1, Packets: packets, Bytes: packets * 100}
}

// Each check passes on a table that is right and fails, saying why, on
// one that is wrong.
func TestChecks(t *testing.T) {
	d1 := []dumpEntry{ent(10, "10.80.0.1", 5), ent(11, "10.80.0.2", 0)}
	d2 := []dumpEntry{ent(11, "10.80.0.2", 1), ent(10, "10.80.0.1", 7)}
	s1, s2 := stats{Rewritten: 20, Entries: 2}, stats{Rewritten: 30, Entries: 2}
	if err := dumpConsistent(d1, d2, s1, s2); err != nil {
		t.Errorf("dumpConsistent on a good table: %v", err)
	}
	if err := countsAddUp(10, s1, s2, d1, d2); err != nil {
		t.Errorf("countsAddUp on a good table: %v", err)
	}
	if err := flushed(nil, stats{}); err != nil {
		t.Errorf("flushed on an empty table: %v", err)
	}
	for _, c := range []struct {
		name, want string
		err        error
	}{
		{"entry gone", "two dumps in a row differ: -2/10/any", dumpConsistent(d1, d2[:1], s1, s2)},
		{"VIP changed", "vip=10.80.0.1 dscp_set=-1 then vip=10.80.0.3", dumpConsistent(d1, []dumpEntry{ent(11, "10.80.0.2", 1), ent(10, "10.80.0.3", 7)}, s1, s2)},
		{"key twice", "key 2/10/any is in the dump twice", dumpConsistent(append(d1, d1[0]), d2, s1, s2)},
		{"count", "the dumps hold 2 and 2 entries, STATS_GET says 3 and 2", dumpConsistent(d1, d2, stats{Entries: 3}, s2)},
		{"total down", "went down: 10 at the start, then 20, then 19", countsAddUp(10, s1, stats{Rewritten: 19}, d1, d2)},
		{"total low", "the entries counted 8 packets, more than the rewritten total 7", countsAddUp(0, stats{}, stats{Rewritten: 7}, d1, d2)},
		{"entry down", "entry 2/10/any went from 5 packets 500 bytes to 4 packets 400 bytes", countsAddUp(0, s1, s2, d1, []dumpEntry{ent(10, "10.80.0.1", 4)})},
		{"not flushed", "after a flush the dump holds 0 entries and STATS_GET says 1", flushed(nil, stats{Entries: 1})},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, c.err, c.want)
		}
	}
}
