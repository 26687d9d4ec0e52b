package health

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// probeDNS sends one query over UDP and passes when the reply with its ID
// carries s.RCode. The socket is connected, so only a reply from the
// address asked (the VIP, on the DSR path) counts.
func probeDNS(ctx context.Context, s Spec, t Target) error {
	query, id, err := dnsQuery(s)
	if err != nil {
		return err
	}
	want, err := ParseRCode(s.RCode)
	if err != nil {
		return err
	}
	c, err := t.dialer("udp").DialContext(ctx, "udp", t.addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	// A read ends with the probe, by its deadline or by its cancel.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if _, err := c.Write(query); err != nil {
		return fmt.Errorf("sending the query: %w", err)
	}
	buf := make([]byte, 4096) // a longer reply is cut, its header is read
	for {
		n, err := c.Read(buf)
		if err != nil {
			return fmt.Errorf("waiting for the reply to %s %s: %w", s.QType, s.Query, err)
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil || h.ID != id || !h.Response {
			continue // not our reply: a late one, or garbage
		}
		if h.RCode != want {
			return fmt.Errorf("rcode %s, want %s (query %s %s)", rcodeName(h.RCode), rcodeName(want), s.QType, s.Query)
		}
		return nil
	}
}

// dnsQuery builds the query of s with a random ID, recursion desired (a
// resolver behind the VIP answers then, an authoritative server ignores
// it), and returns it with its ID.
func dnsQuery(s Spec) ([]byte, uint16, error) {
	name, err := ParseQuery(s.Query)
	if err != nil {
		return nil, 0, err
	}
	qt, err := ParseQType(s.QType)
	if err != nil {
		return nil, 0, err
	}
	id := uint16(rand.Uint32())
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	if err := b.StartQuestions(); err != nil {
		return nil, 0, err
	}
	if err := b.Question(dnsmessage.Question{Name: name, Type: qt, Class: dnsmessage.ClassINET}); err != nil {
		return nil, 0, fmt.Errorf("building the query for %q: %w", s.Query, err)
	}
	msg, err := b.Finish()
	return msg, id, err
}
