// SPDX-License-Identifier: GPL-2.0
/*
 * A throwaway module with a deliberate bug, loaded only by the checks of
 * make test-debug (tests/kernel/checks.sh) to show that the debug bench
 * fails on a leak and on a use-after-free. Never packaged.
 */
#include <linux/module.h>
#include <linux/slab.h>

static char *bug = "none";
module_param(bug, charp, 0444);
MODULE_PARM_DESC(bug, "leak or uaf");

struct l3dsr_bug_obj {
	u32 magic;
	char pad[252];
};

static int __init l3dsr_bug_init(void)
{
	struct l3dsr_bug_obj *o;
	int i;

	if (!strcmp(bug, "leak")) {
		/* Several, so that a stray pointer to one cannot hide them all. */
		for (i = 0; i < 8; i++) {
			o = kzalloc(sizeof(*o), GFP_KERNEL);
			if (!o)
				return -ENOMEM;
			WRITE_ONCE(o->magic, 0x13d5);
			o = NULL;
		}
		pr_info("l3dsr_bugmod: leaked 8 objects of %zu bytes\n",
			sizeof(*o));
	} else if (!strcmp(bug, "uaf")) {
		o = kzalloc(sizeof(*o), GFP_KERNEL);
		if (!o)
			return -ENOMEM;
		kfree(o);
		pr_info("l3dsr_bugmod: magic after free %u\n",
			READ_ONCE(o->magic));
	}
	return 0;
}

static void __exit l3dsr_bug_exit(void)
{
}

module_init(l3dsr_bug_init);
module_exit(l3dsr_bug_exit);
MODULE_DESCRIPTION("l3dsr test: a deliberate kernel bug for the debug bench's checks");
MODULE_LICENSE("GPL");
