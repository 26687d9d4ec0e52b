# shellcheck shell=bash
# checksum_bpf: checksum.sh's packet-by-packet checksum suite with the BPF backend as the
# rewriter (tc ingress on rw0, `l3dsr realserver up --backend bpf`): the same cases, the same
# skb states, the same sink-kernel and tcpdump cross-checks, and the table's counters instead of
# the DADDR rules'.
CK_REWRITER=bpf
# shellcheck source=checksum.sh
source "$(dirname "${BASH_SOURCE[0]}")/checksum.sh"
