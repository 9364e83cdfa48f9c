/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "target.h"

static void rpi_add_files(const struct recipe *r, struct compose_input *in)
{
	(void)r;
	(void)in;
}

static int rpi_make_disk(struct disk *d, const struct recipe *r, const struct compose_input *in,
			 struct compose_result *res)
{
	(void)r; (void)in; (void)res;
	snprintf(d->err, d->errlen, "not yet");
	return -ENOTSUP;
}

const struct mk_target target_rpi = {
	.kind = "rpi",
	.suffix = ".img",
	.add_files = rpi_add_files,
	.make_disk = rpi_make_disk,
};
