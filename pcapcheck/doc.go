// Package pcapcheck captures and decodes the packets of an L3 DSR path and
// decides whether DSR works there: requests arrive at the real server's own
// address marked with the DSCP code of their VIP, and replies leave sourced
// from the VIP.
//
// Capture filters are classic BPF programs built here with
// golang.org/x/net/bpf, so the binary needs neither libpcap nor cgo.
package pcapcheck
