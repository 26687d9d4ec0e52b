package ipvs

import (
	"errors"
	"fmt"

	"github.com/l3dsr/l3dsr/internal/nl"
	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// Client talks to IPVS in one network namespace. It is not safe for
// concurrent use.
type Client struct {
	c *nl.Conn
}

// New returns a client of IPVS in the calling thread's network namespace.
// If IPVS is not loaded the error matches ErrNotAvailable.
func New() (*Client, error) {
	return dial(0)
}

// newInNetNS returns a client of IPVS in the network namespace referred to
// by the open file descriptor fd (of /run/netns/NAME or /proc/PID/ns/net).
// The descriptor may be closed once newInNetNS returns.
func newInNetNS(fd int) (*Client, error) {
	if fd <= 0 {
		return nil, fmt.Errorf("ipvs: network namespace file descriptor %d is not valid: open /run/netns/NAME or /proc/PID/ns/net", fd)
	}
	return dial(fd)
}

func dial(netns int) (*Client, error) {
	return clientOf(nl.Dial(familyName, genlVersion, netns, ErrNotAvailable))
}

// clientOf is a client over c, or the error of getting c in this package's
// words.
func clientOf(c *nl.Conn, err error) (*Client, error) {
	if err != nil {
		return nil, fmt.Errorf("ipvs: %w", err)
	}
	return &Client{c: c}, nil
}

// Close closes the netlink socket.
func (c *Client) Close() error {
	return c.c.Close()
}

// info returns the kernel's IPVS version and connection table size.
func (c *Client) info() (ipvsInfo, error) {
	const op = "read info"
	msgs, err := c.c.Execute(cmdGetInfo, netlink.Request, nil)
	if err != nil {
		return ipvsInfo{}, wrap(op, err, nil)
	}
	if len(msgs) != 1 {
		return ipvsInfo{}, &opError{op: op, cause: fmt.Errorf("the kernel answered with %d messages, want 1", len(msgs))}
	}
	ad, err := netlink.NewAttributeDecoder(msgs[0].Data)
	if err != nil {
		return ipvsInfo{}, &opError{op: op, cause: err}
	}
	var info ipvsInfo
	for ad.Next() {
		switch ad.Type() {
		case infoAttrVersion:
			info.version = versionString(ad.Uint32())
		case infoAttrConnTabSize:
			info.connTableSize = ad.Uint32()
		}
	}
	if err := ad.Err(); err != nil {
		return ipvsInfo{}, &opError{op: op, cause: err}
	}
	if info.version == "" {
		return ipvsInfo{}, &opError{op: op, cause: errors.New("the reply has no version")}
	}
	return info, nil
}

// Services returns every service, with its counters.
func (c *Client) Services() ([]Service, error) {
	const op = "list services"
	msgs, err := c.c.Execute(cmdGetService, netlink.Request|netlink.Dump, nil)
	if err != nil {
		return nil, wrap(op, err, nil)
	}
	out := make([]Service, 0, len(msgs))
	for _, m := range msgs {
		s, err := serviceOf(m)
		if err != nil {
			return nil, &opError{op: op, cause: err}
		}
		out = append(out, s)
	}
	return out, nil
}

// Service returns the service with s's key (protocol, address and port,
// or firewall mark, and family), with its counters. A missing service is an
// error matching ErrNotFound.
func (c *Client) Service(s Service) (Service, error) {
	s, op, err := serviceOp("get service", s)
	if err != nil {
		return Service{}, err
	}
	msgs, err := c.c.Execute(cmdGetService, netlink.Request, serviceAttrs(s, false))
	if err != nil {
		return Service{}, wrap(op, err, svcNotFound)
	}
	if len(msgs) != 1 {
		return Service{}, &opError{op: op, cause: fmt.Errorf("the kernel answered with %d messages, want 1", len(msgs))}
	}
	got, err := serviceOf(msgs[0])
	if err != nil {
		return Service{}, &opError{op: op, cause: err}
	}
	return got, nil
}

// CreateService creates s. An existing service with s's key is an error
// matching ErrExists; an unknown scheduler is an error that names it.
func (c *Client) CreateService(s Service) error {
	return c.serviceCommand("create service", cmdNewService, s, true, svcCreate)
}

// UpdateService replaces the options (scheduler, flags, timeout, netmask,
// persistence engine) of the service with s's key by s's: options left zero
// take their defaults, as in CreateService. A missing service is an error
// matching ErrNotFound.
func (c *Client) UpdateService(s Service) error {
	return c.serviceCommand("update service", cmdSetService, s, true, svcNotFound)
}

// RemoveService removes the service with s's key and its destinations. A
// missing service is an error matching ErrNotFound.
func (c *Client) RemoveService(s Service) error {
	return c.serviceCommand("remove service", cmdDelService, s, false, svcNotFound)
}

// serviceCommand sends cmd for s: the whole service (full), which names
// the scheduler, or its key.
func (c *Client) serviceCommand(verb string, cmd uint8, s Service, full bool, m errnoMeaning) error {
	s, op, err := serviceOp(verb, s)
	if err != nil {
		return err
	}
	if full {
		m = schedMeaning(m, s)
	}
	if _, err := c.c.Execute(cmd, netlink.Request|netlink.Acknowledge, serviceAttrs(s, full)); err != nil {
		return wrap(op, err, m)
	}
	return nil
}

// Destinations returns the destinations of the service with s's key, with
// their counters. A missing service is an error matching ErrNotFound.
func (c *Client) Destinations(s Service) ([]Destination, error) {
	s, op, err := serviceOp("list destinations of", s)
	if err != nil {
		return nil, err
	}
	msgs, err := c.c.Execute(cmdGetDest, netlink.Request|netlink.Dump, serviceAttrs(s, false))
	if err != nil {
		return nil, wrap(op, err, svcNotFound)
	}
	out := make([]Destination, 0, len(msgs))
	for _, m := range msgs {
		b, err := nestOf(m, cmdNewDest, cmdAttrDest)
		if err != nil {
			return nil, &opError{op: op, cause: err}
		}
		d, err := decodeDest(b, s.Family)
		if err != nil {
			return nil, &opError{op: op, cause: fmt.Errorf("decoding a destination: %w", err)}
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		// The kernel answers a dump for a missing service with nothing
		// rather than an error: tell the two apart.
		if _, err := c.Service(s); err != nil {
			var e *opError
			if errors.As(err, &e) {
				e.op = op
			}
			return nil, err
		}
	}
	return out, nil
}

// CreateDestination adds d to the service with s's key. An existing
// destination with d's address and port is an error matching ErrExists, a
// missing service one matching ErrNotFound.
func (c *Client) CreateDestination(s Service, d Destination) error {
	return c.destCommand("create destination", cmdNewDest, s, d, true, destCreate)
}

// UpdateDestination replaces the options (forwarding method, weight,
// thresholds, tunnel) of the destination with d's address and port. A
// missing service or destination is an error matching ErrNotFound.
func (c *Client) UpdateDestination(s Service, d Destination) error {
	return c.destCommand("update destination", cmdSetDest, s, d, true, destNotFound)
}

// RemoveDestination removes the destination with d's address and port. A
// missing service or destination is an error matching ErrNotFound.
func (c *Client) RemoveDestination(s Service, d Destination) error {
	return c.destCommand("remove destination", cmdDelDest, s, d, false, destNotFound)
}

func (c *Client) destCommand(verb string, cmd uint8, s Service, d Destination, full bool, m errnoMeaning) error {
	s, _, err := serviceOp(fmt.Sprintf("%s %v of", verb, d), s)
	if err != nil {
		return err
	}
	d, err = d.normalize(s)
	op := fmt.Sprintf("%s %v of %v", verb, d, s)
	if err == nil && full {
		err = d.check(s)
	}
	if err != nil {
		return &opError{op: op, cause: err}
	}
	ae := serviceAttrs(s, false)
	ae.Nested(cmdAttrDest, func(nae *netlink.AttributeEncoder) error {
		encodeDest(nae, d, full)
		return nil
	})
	if _, err := c.c.Execute(cmd, netlink.Request|netlink.Acknowledge, ae); err != nil {
		return wrap(op, err, m)
	}
	return nil
}

// Flush removes every service and destination of the namespace.
func (c *Client) Flush() error {
	if _, err := c.c.Execute(cmdFlush, netlink.Request|netlink.Acknowledge, nil); err != nil {
		return wrap("flush", err, nil)
	}
	return nil
}

// zeroStats zeroes the counters of the service with s's key and of its
// destinations, or of every service when s is nil. A missing service is an
// error matching ErrNotFound.
func (c *Client) zeroStats(s *Service) error {
	if s == nil {
		if _, err := c.c.Execute(cmdZero, netlink.Request|netlink.Acknowledge, nil); err != nil {
			return wrap("zero all counters", err, nil)
		}
		return nil
	}
	return c.serviceCommand("zero counters of service", cmdZero, *s, false, svcNotFound)
}

// serviceOp normalizes s and names the operation verb on it.
func serviceOp(verb string, s Service) (Service, string, error) {
	n, err := s.normalize()
	op := fmt.Sprintf("%s %v", verb, n)
	if err != nil {
		return n, op, &opError{op: op, cause: err}
	}
	return n, op, nil
}

// serviceAttrs is the IPVS_CMD_ATTR_SERVICE nest: the key, or the whole
// service.
func serviceAttrs(s Service, full bool) *netlink.AttributeEncoder {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(cmdAttrService, func(nae *netlink.AttributeEncoder) error {
		encodeService(nae, s, full)
		return nil
	})
	return ae
}

// serviceOf decodes a NEW_SERVICE reply.
func serviceOf(m genetlink.Message) (Service, error) {
	b, err := nestOf(m, cmdNewService, cmdAttrService)
	if err != nil {
		return Service{}, err
	}
	s, err := decodeService(b)
	if err != nil {
		return Service{}, fmt.Errorf("decoding a service: %w", err)
	}
	return s, nil
}

// nestOf returns the payload of the nest attr of a reply with command cmd.
func nestOf(m genetlink.Message, cmd uint8, attr uint16) ([]byte, error) {
	if m.Header.Command != cmd {
		return nil, fmt.Errorf("reply with command %d, want %d", m.Header.Command, cmd)
	}
	ad, err := netlink.NewAttributeDecoder(m.Data)
	if err != nil {
		return nil, err
	}
	for ad.Next() {
		if ad.Type() == attr {
			return ad.Bytes(), nil
		}
	}
	if err := ad.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("reply without attribute %d", attr)
}
