/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The disk stage with libguestfs: an appliance that partitions, makes file
 * systems and unpacks the composed tree into a raw disk image. */
#ifndef MK_DISK_H
#define MK_DISK_H

#include <guestfs.h>
#include <stdint.h>

#include "compose.h"

struct disk {
	guestfs_h *g;
	char *path;
	char *err;      /* the caller's buffer, filled with libguestfs' words */
	size_t errlen;
	/* The whole of the last failure's text (libguestfs's error: what ran
	 * in the appliance and all of its output, perhaps thousands of lines,
	 * where err holds what fits); kept by disk_close, the caller's to free. */
	char *text;
};

/* Creates a sparse raw file of SIZE bytes at PATH and starts the appliance.
 * With IN, the tree IN describes is composed first (filling RES) into a tar
 * file in CACHE_DIR that the appliance sees as a second disk (deleted once
 * it started), for disk_tar_in. Uses KVM when it works here and TCG
 * otherwise (one warning). */
int disk_open(struct disk *d, const char *path, uint64_t size, const struct compose_input *in,
	      struct compose_result *res, const char *cache_dir, char *err, size_t errlen);
/* The same on a disk that exists (a copy of a cached one) whose root file
 * system is partition ROOT_PART: the files IN's tree replaces are removed
 * from it first, on the host, so that the kernel deletes nothing while the
 * tree goes in (see disk_remove_replaced). ROOT_PART 0: a new disk,
 * nothing to remove. */
int disk_open_existing(struct disk *d, const char *path, int root_part,
		       const struct compose_input *in, struct compose_result *res,
		       const char *cache_dir, char *err, size_t errlen);
/* Shuts the appliance down cleanly (syncing the disk) and frees it. */
int disk_close(struct disk *d);

/* Fills err from guestfs_last_error; returns -MK_ERR_GUESTFS. */
int disk_fail(struct disk *d, const char *what);

/* Unpacks the composed tree (see disk_open) into the file system mounted
 * at DIR, with owners, modes, times and extended attributes. */
int disk_tar_in(struct disk *d, const char *dir);

/* Runs a command inside the image (same architecture only); WHAT names it
 * in errors and in the debug log. */
int disk_command(struct disk *d, const char *what, const char *const *argv);

/* The first byte of MBR partition N (1-4) of the disk open at FD. */
int disk_part_offset(int fd, int n, uint64_t *off);

/* A stable UUID derived from the recipe, so rebuilds give the same bytes. */
void disk_uuid(const char *seed, char out[37]);

/* ext4 allocates blocks when it writes (not later, at a time writeback
 * picks), so the layout follows the order of the tree; no access times. */
#define DISK_EXT4_MOUNT_OPTIONS "nodelalloc,noatime"

/* Makes an ext4 (or ext3/ext2) file system on DEV with a directory hash
 * seed derived from UUID, inode tables zeroed at once and no journal until
 * disk_normalize. It takes no time: the times mke2fs writes (creation,
 * write, the first inodes') are the appliance's clock, and disk_normalize
 * sets every one of them to the one time the image carries. */
int disk_mkfs_ext4(struct disk *d, const char *dev, const char *fstype, const char *label,
		   const char *uuid);

/* On the root file system (partition ROOT_PART) of the raw disk RAW, not in
 * use: removes every non-directory that the tar file TREE holds, as
 * unlink(2) would, their freed inodes zeroed. Missing paths are fine. */
int disk_remove_replaced(const char *raw, int root_part, const char *tree, char *err,
			 size_t errlen);

/* Zeroes the root file system's unused inodes (their deletion times), so
 * that a disk kept in the cache is used alike at once and later. */
int disk_clear_free_inodes(const char *raw, int root_part, char *err, size_t errlen);

/* On the raw disk, after the appliance is done: the root file system
 * (partition ROOT_PART) made to depend on the inputs only.
 * Inode times the kernel or mke2fs set become T (mtimes are clamped to it),
 * inode generations 0, the superblock's creation, mount, write and check
 * times T, its other mount records cleared, a fresh
 * journal is added, checksums are rewritten, free blocks become holes. */
int disk_normalize(const char *raw, int root_part, const char *uuid, time_t t, char *err,
		   size_t errlen);

#endif
