/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Output: the raw disk streamed through the compressor into the output
 * directory under a temporary name, renamed when complete; SHA256SUMS and
 * the JSON manifest beside it. */
#ifndef MK_OUTPUT_H
#define MK_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

struct output_file {
	char *path;
	char sha256[65];
	uint64_t size;
	/* After a failed write (ENOSPC): about how big the whole file would
	 * have been, from what was written and how much of the disk's data
	 * it covered; 0 when not known. */
	uint64_t need;
};

/* The name of one of an image's files, "mkmesh-TARGET-VERSION-ARCH" and
 * TAIL: ".raw.gz" (the image), ".img.bmap", ".manifest.json", ".spdx.json".
 * Each is made from the parts, never cut out of the image's name: a
 * version may hold ".img" or ".raw" ("1.img.2"). */
char *output_name(const char *target, const char *version, const char *arch, const char *tail);

/* Compresses RAW ("gzip", "zstd", or "xz" through the xz program) into DEST
 * (written under a temporary name first). For gzip, CACHE (may be NULL) is
 * a directory of chunks already deflated, by content: a rebuild deflates
 * only what changed. The output is the same with or without it. */
int output_compress(const char *raw, const char *dest, const char *method, const char *cache,
		    struct output_file *res, char *err, size_t errlen);

/* Writes MANIFEST to DEST (atomically), pretty-printed with sorted keys. */
int output_write_json(const char *dest, json_t *manifest, struct output_file *res, char *err,
		      size_t errlen);

/* Adds or replaces the lines for FILES in DIR/SHA256SUMS. */
int output_update_sums(const char *dir, const struct output_file *files, size_t n, char *err,
		       size_t errlen);

#endif
