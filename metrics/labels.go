package metrics

import (
	"net/netip"
	"strconv"

	"github.com/l3dsr/l3dsr/director"
)

// The label names: a service is named as ipvsadm names it (address, port,
// protocol), and a real by its address, so series join across the
// director's metrics and the health checks'.
var (
	serviceLabels = []string{"vip", "port", "proto"}
	realLabels    = []string{"vip", "port", "proto", "real"}
)

// serviceValues are the label values of serviceLabels for k.
func serviceValues(k director.Key) []string {
	return []string{k.VIP.String(), strconv.Itoa(int(k.Port)), k.Proto.String()}
}

// realValues are the label values of realLabels.
func realValues(k director.Key, real netip.Addr) []string {
	return with(serviceValues(k), real.String())
}

// with is labels and then more, in a new slice: the label lists above are
// shared, and an append to one of them could write into another's array.
func with(labels []string, more ...string) []string {
	return append(labels[:len(labels):len(labels)], more...)
}
