/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Debian root filesystem, made by mmdebstrap (apt and dpkg do the work)
 * into a tarball cached by a hash of everything that went into it. */
#ifndef MK_ROOTFS_H
#define MK_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>

#include "artifacts.h"
#include "recipe.h"

struct rootfs_result {
	char *tar_path;  /* in the cache; stays there */
	char *key;       /* the cache key (sha256 of the inputs) */
	bool cached;     /* true when no mmdebstrap run was needed */
};

/* LOG_PATH receives mmdebstrap's output. DL holds the checked keys of
 * the extra apt sources the layers add. */
int rootfs_build(const struct recipe *r, const struct artifacts *dl, const char *cache_dir,
		 const char *log_path, struct rootfs_result *res, char *err, size_t errlen);

/* The sources.list line of an extra apt source, for the build and the image. */
char *rootfs_source_line(const struct recipe *r, const struct recipe_apt_source *s,
			 const char *signed_by);
void rootfs_result_release(struct rootfs_result *res);

/* The Debian architecture of this machine ("amd64"). */
const char *rootfs_host_arch(void);

/* Whether binaries of ARCH can run here; if not, err tells how to fix it. */
int rootfs_check_emulation(const char *arch, char *err, size_t errlen);

#endif
