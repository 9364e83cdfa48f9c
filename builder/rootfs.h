/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Debian root filesystem, made by mmdebstrap (apt and dpkg do the work)
 * into a tarball cached by a hash of everything that went into it. */
#ifndef MK_ROOTFS_H
#define MK_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "recipe.h"

struct rootfs_result {
	char *tar_path;  /* in the cache; stays there */
	char *key;       /* the cache key (sha256 of the inputs) */
	bool cached;     /* true when no mmdebstrap run was needed */
};

/* LOG_PATH receives mmdebstrap's output. */
int rootfs_build(const struct recipe *r, const char *cache_dir, const char *log_path,
		 struct rootfs_result *res, char *err, size_t errlen);
void rootfs_result_release(struct rootfs_result *res);

/* The Debian architecture of this machine ("amd64"). */
const char *rootfs_host_arch(void);

/* Whether binaries of ARCH can run here; if not, err tells how to fix it. */
int rootfs_check_emulation(const char *arch, char *err, size_t errlen);

#endif
