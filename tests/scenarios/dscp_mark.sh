# shellcheck shell=bash
# dscp_mark: DSCP marking on the director with nftables (internal/dscpmark/) against the real kernel. Runs
# the integration tests of internal/dscpmark/*_linux_test.go from build/dscpmark.test, each in network
# namespaces of its own, and relays each Go test and subtest as a case (tests/lib/gotest.sh):
#   ListMatchesNft         what List returns = `nft -j list table inet l3dsr`, both ways; the
#                          rules print as nft's own `ip daddr . meta l4proto . th dport vmap`
#                          and `ip dscp set N`
#   Wire                   sender -> marking netns (forwarding) -> receiver: UDP and TCP to
#                          VIP:port, IPv4 and IPv6, leave with the DSCP code, ECN bits kept, a
#                          valid IPv4 header checksum; other VIPs, ports, protocols untouched
#   Coexistence            other nft tables and iptables-nft/-legacy rules made before are
#                          identical (nft -a list ruleset, *-legacy-save) after each change
#   Idempotent             no batch (nf_tables generation unchanged) for a repeated Add or Sync;
#                          unused code chains deleted; damaged chains repaired; Remove
#   ErrorsChangeNothing    bad DSCP, port, protocol, VIP, conflicts, missing marks: refused with
#                          the value named, no batch
#   RefusedBatchIsAtomic   a batch the kernel refuses leaves the ruleset as it was

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/dscpmark.test" 400 -test.run Integration
exit 0
