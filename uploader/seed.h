/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The cloud-init NoCloud seed of `mkmesh seed`: meta-data, and the files
 * written as an ISO 9660 image labelled "cidata" (libarchive: Rock Ridge and
 * Joliet, so "user-data" keeps its lower-case name, as cloud-localds makes
 * it) or into a directory (a Pi's mounted FAT partition).
 * Library code: no logging; 0 or -errno, with libarchive's words in err.
 */
#ifndef MK_SEED_H
#define MK_SEED_H

#include <stdbool.h>
#include <stddef.h>

#define SEED_VOLUME_ID "cidata"

struct seed_file {
	const char *name; /* "user-data", "meta-data", "network-config" */
	const char *data;
	size_t len;
};

/* "instance-id: iid-mkmesh-<16 hex digits of the sha256 of USER_DATA and
 * HOSTNAME>\nlocal-hostname: HOSTNAME\n": a new instance id only when what
 * the machine is given changes. HOSTNAME must be valid (site_args). */
char *seed_meta_data(const char *user_data, const char *hostname);

/*
 * The ISO at PATH, written to a temporary file in the same directory and
 * renamed over PATH only once complete (mode 0600: the user-data may carry
 * a token). Without FORCE an existing PATH is -EEXIST, also when it appears
 * meanwhile. Nothing is left behind on failure.
 */
int seed_write_iso(const char *path, const struct seed_file *files, size_t n, bool force,
		   char *err, size_t errlen);

/*
 * The files into directory DIR (0600), each through a temporary name; none
 * is written when one exists and FORCE is not given (-EEXIST, its name in
 * err). -ENOTDIR when DIR is not a directory.
 */
int seed_write_dir(const char *dir, const struct seed_file *files, size_t n, bool force,
		   char *err, size_t errlen);

#endif
