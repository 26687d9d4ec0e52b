// Package icmprelay sends ICMP "fragmentation needed" (IPv4 type 3 code 4)
// and ICMPv6 "packet too big" (type 2) that reach a director on to the
// real server that owns the quoted flow. In L3 DSR replies leave from the
// real servers with the VIP as source, so a router on their path that
// needs a smaller MTU answers the VIP: a director, often not the one that
// carried the flow. Without the relay the real server never learns the
// path MTU and its large replies black-hole (GLB had the same need:
// github/glb-director#47).
//
// parse reads the error and its quoted packet, toReal makes the copy to
// send toward the real (in the service's L3 DSR encoding), and Relay reads
// them off the wire and sends the copies.
package icmprelay
