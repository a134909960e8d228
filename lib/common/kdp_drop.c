/* SPDX-License-Identifier: BSD-3-Clause */
#include "kdp_drop.h"

#define NAME_(n, s, h) [KDP_DROP_##n] = s,
#define HELP_(n, s, h) [KDP_DROP_##n] = h,
#define LIST_NAME_(list, stage) list(NAME_)
#define LIST_HELP_(list, stage) list(HELP_)

static const char *const kdp_drop_names[KDP_DROP__MAX] = {
	KDP_FOREACH_STAGE(LIST_NAME_)
};
static const char *const kdp_drop_helps[KDP_DROP__MAX] = {
	KDP_FOREACH_STAGE(LIST_HELP_)
};

/* Stage of each reason: the lists are contiguous in the enum, so the table is
 * filled once, before main(), by counting each list's entries. */
static const char *kdp_drop_stages[KDP_DROP__MAX];

__attribute__((constructor)) static void kdp_drop_stages_init(void)
{
	unsigned int i = 0;
#define COUNT_(n, s, h) +1
#define FILL_(list, stage)                                                     \
	for (unsigned int k = 0; k < 0 list(COUNT_); k++)                      \
		kdp_drop_stages[i++] = stage;
	KDP_FOREACH_STAGE(FILL_)
#undef FILL_
#undef COUNT_
}

const char *kdp_drop_name(unsigned int reason)
{
	return reason < KDP_DROP__MAX ? kdp_drop_names[reason] : "unknown";
}

const char *kdp_drop_help(unsigned int reason)
{
	return reason < KDP_DROP__MAX ? kdp_drop_helps[reason] : "";
}

const char *kdp_drop_stage(unsigned int reason)
{
	if (reason >= KDP_DROP__MAX)
		return "unknown";
	return kdp_drop_stages[reason];
}
