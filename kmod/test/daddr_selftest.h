/* SPDX-License-Identifier: GPL-2.0 */
/* The self-test's parts in other files; each prints a line per case. */
#ifndef _L3DSR_DADDR_SELFTEST_H
#define _L3DSR_DADDR_SELFTEST_H

void st_table_cases(unsigned int *pass, unsigned int *fail);

#endif /* _L3DSR_DADDR_SELFTEST_H */
