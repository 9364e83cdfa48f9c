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

int target_set_disk_id(struct disk *d, const struct recipe *r)
{
	char id[65], bytes[4];
	_cleanup_free_ char *seed = xasprintf("mkmesh:%s:%s:%s:disk-id", r->name, r->arch, r->suite);
	mk_sha256_hex(seed, strlen(seed), id);
	for (int i = 0; i < 4; i++)
		bytes[i] = (char)strtol((char[]){id[2 * i], id[2 * i + 1], 0}, NULL, 16);
	if (guestfs_pwrite_device(d->g, "/dev/sda", bytes, 4, 440) != 4)
		return disk_fail(d, "set the disk identifier");
	return 0;
}
