/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One handler per kind of target (genimage's image handlers): how the disk
 * is laid out and made bootable, and what the image file is called. */
#ifndef MK_TARGET_H
#define MK_TARGET_H

#include "compose.h"
#include "disk.h"
#include "recipe.h"

struct mk_target {
	const char *kind;
	const char *suffix;     /* ".raw", ".img" before the compression's */
	bool bmap;              /* a block map (NAME.img.bmap) beside the image, for flashing */
	int root_part;          /* the root file system's partition (for disk_normalize) */
	int fat_part;           /* a FAT32 partition for fat_normalize, 0 for none */
	/* Files the target adds to the tree (fstab, bootloader settings). */
	void (*add_files)(const struct recipe *r, struct compose_input *in);
	/* Partitions, file systems, the tree (disk_tar_in), the bootloader. */
	int (*make_disk)(struct disk *d, const struct recipe *r);
	/* Optional. When set, make_disk is given only the base part of the tree
	 * (the packages) and its disk is cached; finish puts the layers' part
	 * on a copy of it, so a change to an overlay does not remake the disk. */
	int (*finish)(struct disk *d);
};

const struct mk_target *target_find(const char *kind);

/* The root file system's UUID for a recipe (stable across rebuilds). */
void target_root_uuid(const struct recipe *r, char out[37]);

/* The MBR disk identifier (parted picks one at random) from the recipe,
 * so that a rebuild gives the same bytes (and the same PARTUUIDs). */
int target_set_disk_id(struct disk *d, const struct recipe *r);

extern const struct mk_target target_droplet;
extern const struct mk_target target_rpi;

#endif
