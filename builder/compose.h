/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Composition: the rootfs tarball, the layers' overlays and generated files
 * merged into one tar stream with explicit owner and mode, mtimes clamped to
 * SOURCE_DATE_EPOCH, instance state left out, in a deterministic order. */
#ifndef MK_COMPOSE_H
#define MK_COMPOSE_H

#include <stdint.h>
#include <time.h>

#include "recipe.h"

/* A file made by the build itself (fstab, grub settings, build info). */
struct compose_file {
	char *path;      /* relative, no leading '/' */
	char *content;
	size_t len;
	int mode;
	bool base;       /* part of the base (the disk layout needs it: fstab, grub) */
};

/* A file or directory from outside the overlays (a downloaded artifact). */
struct compose_extra {
	char *path;      /* in the image, relative */
	char *source;    /* on the host */
	int mode;
	bool unpack;     /* source is a tarball unpacked below path */
};

/*
 * A tree is composed whole, or in two parts so that the disk with the
 * packages can be kept and only the layers' files put on a copy of it:
 * BASE is the rootfs (less instance state) with the base files; LAYERS is
 * everything else, made to be unpacked over BASE. ALL = BASE + LAYERS.
 */
enum compose_part { COMPOSE_ALL, COMPOSE_BASE, COMPOSE_LAYERS };

struct compose_input {
	enum compose_part part;
	const char *rootfs_tar;
	const struct recipe *recipe;
	time_t source_date_epoch;
	time_t base_source_date_epoch; /* for the base part; 0: not clamped */
	struct compose_file *files;
	size_t n_files;
	struct compose_extra *extras;
	size_t n_extras;
};

struct compose_package {
	char *name, *version, *arch;
	char *license; /* from a machine-readable copyright file (DEP-5), or NULL */
};

struct compose_result {
	uint64_t entries;
	uint64_t bytes;
	struct compose_package *packages; /* from the image's dpkg status, sorted */
	size_t n_packages;
};

void compose_add_file(struct compose_input *in, const char *path, const char *content, int mode);
void compose_add_base_file(struct compose_input *in, const char *path, const char *content, int mode);
void compose_input_release(struct compose_input *in);
void compose_result_release(struct compose_result *res);

/* Writes the merged tar stream to FD. Does not close FD. */
int compose_run(const struct compose_input *in, int fd, struct compose_result *res, char *err,
		size_t errlen);

/* The License: short names of a machine-readable (DEP-5) Debian copyright
 * file, unique, sorted and joined with " AND " ("Expat AND GPL-2+"); NULL
 * when the file is not machine-readable or names none. */
char *compose_dep5_license(const char *text);

/* The packages installed in the rootfs tarball TAR (its dpkg status). */
int compose_rootfs_packages(const char *tar, struct compose_result *res, char *err, size_t errlen);

/* Whether a path of the rootfs is instance state that an image must not
 * carry (exposed for tests). */
bool compose_is_instance_state(const char *path);

#endif
