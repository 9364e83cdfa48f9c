/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "target.h"

#include <string.h>

static const struct mk_target *const targets[] = {
	&target_droplet,
	&target_rpi,
};

const struct mk_target *target_find(const char *kind)
{
	for (size_t i = 0; i < ELEMENTSOF(targets); i++)
		if (strcmp(targets[i]->kind, kind) == 0)
			return targets[i];
	return NULL;
}

void target_root_uuid(const struct recipe *r, char out[37])
{
	_cleanup_free_ char *seed = xasprintf("mkmesh:%s:%s:%s:root", r->name, r->arch, r->suite);
	disk_uuid(seed, out);
}
