// SPDX-License-Identifier: GPL-2.0
/* The table code under test, built into the self-test module. */
#include "../daddr_table.c"
