/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Block maps in bmaptool's XML format (version 2.0): which blocks of a raw
 * image hold data, with a sha256 per range, so that a card is written with
 * only those blocks and checked afterwards. `bmaptool copy` reads our files,
 * and our writer gives the same bytes as `bmaptool create`. */
#ifndef MK_BMAP_H
#define MK_BMAP_H

#include <stddef.h>
#include <stdint.h>

struct bmap_range {
	uint64_t first, last; /* block numbers, inclusive */
	char sha256[65];      /* of the blocks' bytes (bmap_parse requires one) */
};

struct bmap {
	uint64_t image_size;
	uint32_t block_size;
	uint64_t blocks_count;
	uint64_t mapped_count;
	struct bmap_range *ranges;
	size_t n_ranges;
};

/* The data ranges of the (sparse) file RAW, from SEEK_DATA/SEEK_HOLE, in
 * blocks of 4096 bytes, each with its sha256. Holes are the blocks that
 * were never written or were punched by a discard (fstrim). */
int bmap_from_file(const char *raw, struct bmap *out, char *err, size_t errlen);

/* The XML text, with BmapFileChecksum filled in. Caller frees. */
char *bmap_format(const struct bmap *b);

/* Parses bmap XML (version 1.x or 2.x with sha256 checksums) and checks
 * the file's own checksum when it has one. Strict, as the file comes from
 * outside: a power-of-two block size from 512 bytes to 1 MiB, a block count
 * that fits the image size, at least one range, ranges ascending, apart
 * and inside the image, and a sha256 on every range (without one the
 * written blocks could not be checked). */
int bmap_parse(const char *text, size_t len, struct bmap *out, char *err, size_t errlen);

/* Bytes of the mapped blocks (the last block may be short). */
uint64_t bmap_mapped_bytes(const struct bmap *b);

void bmap_release(struct bmap *b);

#endif
