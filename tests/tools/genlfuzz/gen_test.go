package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mdlayher/netlink"
)

func ops(seed uint64, n int) []Op {
	g := NewGen(seed, &Key{DSCP: 10, VIP: [4]byte{10, 80, 0, 1}})
	out := make([]Op, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

// A seed replays: the same seed makes the same messages, byte for byte;
// another seed makes others.
func TestGenDeterministic(t *testing.T) {
	a, b := ops(42, 2000), ops(42, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("seed 42 made two different sequences")
	}
	if c := ops(43, 2000); reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 made the same sequence")
	}
}

// The generator reaches what the issue asks for: every command, unknown
// ones and 0, attribute types 0 and past the max, nests 8 deep, dump flags
// on doit-only commands, cut and random payloads, sockets closed in a
// staged replace.
func TestGenCoverage(t *testing.T) {
	cmds := map[uint8]bool{}
	seen := map[string]bool{}
	for _, op := range ops(1, 20000) {
		if op.End == endClose {
			seen["close mid-replace"] = true
		}
		for _, r := range op.Reqs {
			if len(r.Body) >= 4 {
				cmds[r.Body[0]] = true
				if r.Flags&flagDump == flagDump && r.Body[0] != cmdMapGet {
					seen["dump of a doit-only command"] = true
				}
			} else {
				seen["short genl header"] = true
			}
			for _, w := range []string{"+attr0 ", "+attr9 ", "+nest8", "+nest1", "random-attrs", "oversized", "nla_len=0", "nla_len=65535", "+bad-entry", "+reply-only", "MODE_SET 0", "MODE_SET 1", "MAP_GET dump", "REPLACE_ABORT", "MAP_ADD keep"} {
				if strings.Contains(r.Desc+" ", w) {
					seen[w] = true
				}
			}
		}
	}
	for c := range uint8(cmdMax + 1) {
		if !cmds[c] {
			t.Errorf("command %d never sent", c)
		}
	}
	if !cmds[cmdMax+1] || !cmds[0xff] {
		t.Errorf("unknown commands %d and 255 never sent", cmdMax+1)
	}
	for _, w := range []string{"close mid-replace", "dump of a doit-only command", "short genl header", "+attr0 ", "+attr9 ", "+nest8", "+nest1", "random-attrs", "oversized", "nla_len=0", "nla_len=65535", "+bad-entry", "+reply-only", "MODE_SET 0", "MODE_SET 1", "MAP_GET dump", "REPLACE_ABORT", "MAP_ADD keep"} {
		if !seen[w] {
			t.Errorf("never generated: %s", w)
		}
	}
}

// A valid entry is the header's layout: the decoder the fuzzer checks
// replies with reads it back.
func TestEntryEncoding(t *testing.T) {
	e := entry{family: 10, dscp: dscpAny, local: localPool6[1], vip: vipPool6[0], dscpSet: 46}
	ad, err := netlink.NewAttributeDecoder(e.encode())
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(ad)
	if err != nil {
		t.Fatal(err)
	}
	if s := got.keyString() + " " + got.valueString(); s != "10/255/2001:db8:1::3 vip=2001:db8:80::1 dscp_set=46" {
		t.Errorf("decoded %q", s)
	}
	// And a reply with an impossible entry does not decode.
	e.vip = vipPool4[0]
	ad, _ = netlink.NewAttributeDecoder(e.encode())
	if _, err := decodeEntry(ad); err == nil || !strings.Contains(err.Error(), "4-byte VIP") {
		t.Errorf("a 4-byte VIP of family 10: %v, want an error", err)
	}
}
