/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "disk.h"
#include "util.h"

struct fat {
	int fd;
	uint64_t off;          /* the partition's first byte */
	uint32_t cluster_size; /* bytes */
	uint64_t fat_start;    /* byte offset of the first FAT, in the partition */
	uint64_t data_start;   /* byte offset of cluster 2 */
	uint32_t clusters;     /* data clusters */
	char *err;
	size_t errlen;
};

#define DIR_ENTRY 32
#define ATTR_LFN 0x0f
#define ATTR_DIR 0x10
#define MAX_DEPTH 32

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p) { return (uint32_t)le16(p) | (uint32_t)le16(p + 2) << 16; }

static int fat_fail(struct fat *f, int rc, const char *what)
{
	snprintf(f->err, f->errlen, "the firmware partition's FAT32: %s", what);
	return rc;
}

static int next_cluster(struct fat *f, uint32_t c, uint32_t *next)
{
	unsigned char b[4];
	if (pread(f->fd, b, 4, (off_t)(f->off + f->fat_start + (uint64_t)c * 4)) != 4)
		return fat_fail(f, -EIO, "cannot read the FAT");
	*next = le32(b) & 0x0fffffff;
	return 0;
}

struct subdir {
	uint32_t cluster;
	unsigned char written[4]; /* its entry's write time and date */
};

/* The entries of the directory starting at CLUSTER, and those of its
 * subdirectories. A subdirectory's "." and ".." keep the clock's time of
 * its creation even as a write time (tar sets the entry in the parent), so
 * they get WRITTEN, the parent entry's. Stops at the end marker; follows no
 * chain longer than the file system has clusters. */
static int walk(struct fat *f, uint32_t cluster, const unsigned char *written, int depth,
		unsigned char *buf)
{
	if (depth > MAX_DEPTH)
		return fat_fail(f, -ELOOP, "directories nested too deep");
	for (uint32_t n = 0; cluster >= 2 && cluster < f->clusters + 2; n++) {
		if (n > f->clusters)
			return fat_fail(f, -ELOOP, "a cluster chain loops");
		off_t pos = (off_t)(f->off + f->data_start + (uint64_t)(cluster - 2) * f->cluster_size);
		if (pread(f->fd, buf, f->cluster_size, pos) != (ssize_t)f->cluster_size)
			return fat_fail(f, -EIO, "cannot read a directory");
		bool changed = false, end = false;
		_cleanup_free_ struct subdir *subdirs = xmalloc(f->cluster_size / DIR_ENTRY * sizeof(*subdirs));
		size_t nsub = 0;
		for (uint32_t i = 0; i < f->cluster_size && !end; i += DIR_ENTRY) {
			unsigned char *e = buf + i;
			if (e[0] == 0x00) {
				end = true;
				break;
			}
			if (e[0] == 0xe5 || e[11] == ATTR_LFN)
				continue;
			bool dot = e[0] == '.' && (e[1] == ' ' || (e[1] == '.' && e[2] == ' '));
			if (dot && written && memcmp(e + 22, written, 4) != 0) {
				memcpy(e + 22, written, 4);
				changed = true;
			}
			/* creation time (13: 10 ms units, 14: time, 16: date) and
			 * access date (18) from the write time (22) and date (24) */
			unsigned char want[7] = {0, e[22], e[23], e[24], e[25], e[24], e[25]};
			if (memcmp(e + 13, want, sizeof(want)) != 0) {
				memcpy(e + 13, want, sizeof(want));
				changed = true;
			}
			if ((e[11] & ATTR_DIR) && !dot) {
				subdirs[nsub].cluster = (uint32_t)le16(e + 20) << 16 | le16(e + 26);
				memcpy(subdirs[nsub++].written, e + 22, 4);
			}
		}
		if (changed && pwrite(f->fd, buf, f->cluster_size, pos) != (ssize_t)f->cluster_size)
			return fat_fail(f, -EIO, "cannot write a directory");
		for (size_t s = 0; s < nsub; s++) {
			int rc = walk(f, subdirs[s].cluster, subdirs[s].written, depth + 1, buf);
			if (rc < 0)
				return rc;
		}
		if (end)
			break;
		/* buf was reused by the subdirectories: the chain is read anew */
		int rc = next_cluster(f, cluster, &cluster);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int fat_normalize(const char *raw, int part, char *err, size_t errlen)
{
	struct fat f = {.err = err, .errlen = errlen};
	unsigned char bs[512];
	_cleanup_close_ int fd = open(raw, O_RDWR | O_CLOEXEC);
	f.fd = fd;
	if (fd < 0 || disk_part_offset(fd, part, &f.off) < 0) {
		snprintf(err, errlen, "'%s' has no partition %d", raw, part);
		return fd < 0 ? -errno : -EINVAL;
	}
	if (pread(fd, bs, sizeof(bs), (off_t)f.off) != (ssize_t)sizeof(bs) || bs[510] != 0x55 ||
	    bs[511] != 0xaa)
		return fat_fail(&f, -EINVAL, "no boot sector");
	uint32_t bps = le16(bs + 11), spc = bs[13], reserved = le16(bs + 14), nfats = bs[16];
	uint32_t fatsz = le32(bs + 36), total = le32(bs + 32), root = le32(bs + 44);
	if (bps < 512 || bps > 4096 || (bps & (bps - 1)) || !spc || (spc & (spc - 1)) || !nfats ||
	    le16(bs + 22) != 0 || !fatsz || !total)
		return fat_fail(&f, -EINVAL, "not FAT32");
	f.cluster_size = bps * spc;
	f.fat_start = (uint64_t)reserved * bps;
	f.data_start = f.fat_start + (uint64_t)nfats * fatsz * bps;
	f.clusters = (uint32_t)((total - (reserved + nfats * fatsz)) / spc);
	_cleanup_free_ unsigned char *buf = xmalloc(f.cluster_size);
	return walk(&f, root, NULL, 0, buf);
}
