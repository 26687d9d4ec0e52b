# shellcheck shell=bash
# checksum_direct: checksum.sh's packet-by-packet checksum suite with map mode's direct path as
# the rewriter (issue 18): the module's own PRE_ROUTING hook, no iptables rule. The same cases,
# skb states and cross-checks; the table entries' counters instead of the DADDR rules'.
CK_REWRITER=direct
# shellcheck source=checksum.sh
source "$(dirname "${BASH_SOURCE[0]}")/checksum.sh"
