//go:build !linux

package pcapcheck

import (
	"errors"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// Live is a live capture; only Linux has one (AF_PACKET).
type Live struct{}

// openLive fails: live capture needs Linux's AF_PACKET.
func openLive(iface string, filter []bpf.RawInstruction, snaplen int) (*Live, error) {
	return nil, errors.New("live capture needs Linux (AF_PACKET): capture elsewhere and use a pcap file")
}

func (l *Live) readPacket() ([]byte, gopacket.CaptureInfo, error) {
	return nil, gopacket.CaptureInfo{}, errors.New("no live capture on this system")
}
func (l *Live) LinkType() layers.LinkType { return layers.LinkTypeEthernet }
func (l *Live) drops() (uint64, error)    { return 0, nil }
func (l *Live) Close() error              { return nil }
