/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The FAT32 firmware partition, made the same by every build. */
#ifndef MK_FAT_H
#define MK_FAT_H

#include <stddef.h>

/* On the raw disk RAW, after the appliance is done: in every directory
 * entry of the FAT32 file system on partition PART, the creation time and
 * the access date become the entry's modification time (which tar set from
 * the tree), and a directory's "." and ".." take all their times from its
 * entry. Linux's vfat stamps them with the clock when it creates an entry,
 * and tar cannot set them. */
int fat_normalize(const char *raw, int part, char *err, size_t errlen);

#endif
