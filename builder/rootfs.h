/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The Debian root filesystem, made by mmdebstrap (apt and dpkg do the work)
 * into a tarball cached by a hash of everything that went into it. */
#ifndef MK_ROOTFS_H
#define MK_ROOTFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "artifacts.h"
#include "recipe.h"

struct rootfs_result {
	char *tar_path;  /* in the cache; stays there */
	char *packages_path; /* TAR's .packages.tsv: where each package came from */
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

/* One installed package and the .deb it came from, as apt saw it when the
 * tarball was made (sha256 and url are NULL when apt could not say). */
struct rootfs_package {
	char *name, *version, *arch;
	char *source;   /* the source package */
	char *sha256;   /* of the .deb, as the archive published it */
	char *url;      /* mirror + the archive's Filename */
	uint64_t size;
};

/* Reads a .packages.tsv (name, version, arch, source, sha256, size, url). */
int rootfs_packages_load(const char *path, struct rootfs_package **out, size_t *n, char *err,
			 size_t errlen);
void rootfs_packages_free(struct rootfs_package *p, size_t n);

/* The .packages.tsv text from the mmdebstrap hook's output: DPKG is
 * `dpkg-query -W` (status, name, version, arch, source; tab-separated),
 * URIS is `apt-get download --print-uris`. Exposed for tests. */
char *rootfs_packages_tsv(const char *dpkg, const char *uris);

/* The Debian architecture of this machine ("amd64"). */
const char *rootfs_host_arch(void);

/* Whether binaries of ARCH can run here; if not, err tells how to fix it. */
int rootfs_check_emulation(const char *arch, char *err, size_t errlen);

#endif
