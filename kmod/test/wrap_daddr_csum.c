// SPDX-License-Identifier: GPL-2.0
/* The rewrite code under test, built into the self-test module. */
#include "../daddr_csum.c"
