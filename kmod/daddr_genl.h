/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The "l3dsr" generic netlink family (linux/l3dsr.h), which manages map
 * mode's per-namespace table.
 */
#ifndef _L3DSR_DADDR_GENL_H
#define _L3DSR_DADDR_GENL_H

int daddr_genl_init(void);
void daddr_genl_exit(void);

#endif /* _L3DSR_DADDR_GENL_H */
