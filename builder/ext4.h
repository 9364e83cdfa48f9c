/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * An ext4 file system written on the host with libext2fs, straight from a
 * tar stream (as compose makes it: pax with xattrs): no appliance, no mount,
 * no temporary tree. Entries go in in the stream's order and every time in
 * the file system comes from the caller, so the same stream gives the same
 * bytes.
 */
#ifndef MK_EXT4_H
#define MK_EXT4_H

#include <stdint.h>
#include <time.h>

struct archive;

struct ext4_params {
	uint64_t offset;       /* byte offset of the file system in the file (a partition) */
	uint64_t size;         /* bytes, rounded down to whole 4 KiB blocks */
	const char *label;     /* at most 16 bytes, or NULL */
	const char *uuid;      /* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" */
	const char *hash_seed; /* the directory hash seed, in the same form */
	time_t time;           /* superblock times and implicit directories; > 0 */
};

struct ext4_result {
	uint64_t entries; /* entries of the stream written */
	uint64_t bytes;   /* data bytes read from the stream */
};

/*
 * Makes a fresh ext4 file system (4 KiB blocks, 256-byte inodes, Debian's
 * ext4 features, journal, resize inode, lost+found) at P->offset of the
 * regular file PATH (made, or extended, to hold it; that range is punched
 * first, so it reads as zeros) and writes into it every entry of the tar
 * read stream TREE until its end: regular files (sparse: all-zero blocks
 * are not written), directories, symbolic links, hard links, devices,
 * FIFOs, sockets, with owner, mode, times (access, change and creation
 * time all set to the entry's mtime) and xattrs. Parents missing from the
 * stream are made 0755 root:root with time P->time; a directory that
 * comes again updates the first; any other repeated path is an error.
 * TREE is the caller's and is left open.
 *
 * Returns 0, a negative errno or -MK_ERR_EXT2FS/-MK_ERR_ARCHIVE, with ERR
 * naming the entry and the library's own words. Never logs. On failure the
 * file system is left half-written: the caller removes the file (or does
 * not use the partition).
 */
int ext4_write_tree(const char *path, const struct ext4_params *p, struct archive *tree,
		    struct ext4_result *res, char *err, size_t errlen);

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" as 16 bytes; -EINVAL otherwise. */
int ext4_parse_uuid(const char *s, unsigned char out[16]);

#endif
