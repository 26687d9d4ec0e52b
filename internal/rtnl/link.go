package rtnl

import (
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Link is one network interface.
type Link struct {
	Index int
	Name  string
	// Flags are the interface flags (unix.IFF_UP, unix.IFF_LOOPBACK, ...).
	Flags uint32
	MTU   uint32
	// Kind is the rtnl_link_ops kind ("ipip", "ip6tnl", "veth"); empty for
	// devices without one (lo, most physical NICs).
	Kind string
}

// Up reports whether the link is administratively up.
func (l Link) Up() bool { return l.Flags&unix.IFF_UP != 0 }

// Loopback reports whether the link is a loopback device.
func (l Link) Loopback() bool { return l.Flags&unix.IFF_LOOPBACK != 0 }

// ifinfomsg is struct ifinfomsg: family, pad, type, index, flags, change.
const ifinfomsgLen = 16

func ifinfomsg(index int, flags, change uint32) []byte {
	b := make([]byte, ifinfomsgLen)
	b[0] = unix.AF_UNSPEC
	nativeEndian.PutUint32(b[4:8], uint32(int32(index)))
	nativeEndian.PutUint32(b[8:12], flags)
	nativeEndian.PutUint32(b[12:16], change)
	return b
}

func parseLink(b []byte) (Link, error) {
	if len(b) < ifinfomsgLen {
		return Link{}, fmt.Errorf("short RTM_NEWLINK message: %d bytes", len(b))
	}
	l := Link{
		Index: int(int32(nativeEndian.Uint32(b[4:8]))),
		Flags: nativeEndian.Uint32(b[8:12]),
	}
	ad, err := netlink.NewAttributeDecoder(b[ifinfomsgLen:])
	if err != nil {
		return Link{}, fmt.Errorf("decoding link attributes: %w", err)
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			l.Name = ad.String()
		case unix.IFLA_MTU:
			l.MTU = ad.Uint32()
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == unix.IFLA_INFO_KIND {
						l.Kind = nad.String()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return Link{}, fmt.Errorf("decoding link attributes: %w", err)
	}
	return l, nil
}

// LinkByName returns the link called name; a missing link is an error
// matching ErrNotFound.
func (c *Conn) LinkByName(name string) (Link, error) {
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	attrs, err := ae.Encode()
	if err != nil {
		return Link{}, fmt.Errorf("looking up link %s: %w", name, err)
	}
	msgs, err := c.execute(unix.RTM_GETLINK, netlink.Request, append(ifinfomsg(0, 0, 0), attrs...))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Link{}, fmt.Errorf("looking up link %s: no such link: %w", name, err)
		}
		return Link{}, fmt.Errorf("looking up link %s: %w", name, err)
	}
	for _, m := range msgs {
		if m.Header.Type == unix.RTM_NEWLINK {
			return parseLink(m.Data)
		}
	}
	return Link{}, fmt.Errorf("looking up link %s: the kernel sent no link", name)
}

// Links lists every link.
func (c *Conn) Links() ([]Link, error) {
	out, err := dump(c, unix.RTM_GETLINK, ifinfomsg(0, 0, 0), unix.RTM_NEWLINK, parseLink)
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	return out, nil
}

// LinkSetUp sets the link with index administratively up (or down).
func (c *Conn) LinkSetUp(index int, up bool) error {
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	_, err := c.execute(unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge, ifinfomsg(index, flags, unix.IFF_UP))
	if err != nil {
		state := "down"
		if up {
			state = "up"
		}
		return fmt.Errorf("setting link %d %s: %w", index, state, err)
	}
	return nil
}

// EnsureLink makes sure a link called name of the given kind exists, and
// reports whether this call created it. It sends RTM_NEWLINK with
// NLM_F_CREATE|NLM_F_EXCL: for the tunnel kinds ("ipip", "ip6tnl") the
// kernel first autoloads the module (rtnl-link-KIND), whose fallback device
// (tunl0, ip6tnl0) then exists, so the create meets EEXIST and nothing
// new is made. A link of that name but another kind is an error.
func (c *Conn) EnsureLink(kind, name string) (created bool, err error) {
	l, err := c.LinkByName(name)
	switch {
	case err == nil:
		if l.Kind != kind {
			return false, fmt.Errorf("link %s exists with kind %q, not %q: rename or delete it", name, l.Kind, kind)
		}
		return false, nil
	case !errors.Is(err, ErrNotFound):
		return false, err
	}
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.IFLA_IFNAME, name)
	ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
		nae.String(unix.IFLA_INFO_KIND, kind)
		return nil
	})
	attrs, err := ae.Encode()
	if err != nil {
		return false, fmt.Errorf("creating link %s (kind %s): %w", name, kind, err)
	}
	_, err = c.execute(unix.RTM_NEWLINK, netlink.Request|netlink.Acknowledge|netlink.Create|netlink.Excl,
		append(ifinfomsg(0, 0, 0), attrs...))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrExists):
		return false, nil
	case errors.Is(err, unix.EOPNOTSUPP):
		return false, fmt.Errorf("creating link %s (kind %s): the kernel has no %s link type: load its module (ipip for tunl0, ip6_tunnel for ip6tnl0): %w", name, kind, kind, err)
	}
	return false, fmt.Errorf("creating link %s (kind %s): %w", name, kind, err)
}

// LinkDel deletes the link with index.
func (c *Conn) LinkDel(index int) error {
	if _, err := c.execute(unix.RTM_DELLINK, netlink.Request|netlink.Acknowledge, ifinfomsg(index, 0, 0)); err != nil {
		return fmt.Errorf("deleting link %d: %w", index, err)
	}
	return nil
}
