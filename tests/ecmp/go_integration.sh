# shellcheck shell=bash
# go_integration: the Go integration tests of issue 20's pieces, in the VM (the host running
# make may have no root, no namespaces, no BIRD): each Go test and subtest is a case
# (tests/lib/gotest.sh).
#   icmprelay.test  the ICMP relay in three namespaces (router, director, real): dscp and
#                   tunnel copies for IPv4 and IPv6 byte-checked at the real, not_vip counted and
#                   not sent, no read-back of its own sends
#   bgptest.test    the agent's BGP speaker (GoBGP) against BIRD 2 in namespaces: sessions over
#                   IPv4 and IPv6, TCP MD5, a wrong ASN, announce and withdraw seen in BIRD,
#                   1,000 VIPs (the convergence time is logged), Cease at stop
# `make test-ecmp` builds both (ECMPTOOLS in the Makefile); make test does not: GoBGP's test
# binary is a long link for make test's budget, and BIRD is the ECMP bench's.

set -u
# shellcheck source=../lib/gotest.sh
source "$L3DSR_SRC/tests/lib/gotest.sh"

go_test_cases "$L3DSR_BUILD/icmprelay.test" 300 -test.run Integration
go_test_cases "$L3DSR_BUILD/bgptest.test" 900
exit 0
