/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "bmap.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#define BMAP_BLOCK 4096u
/* What a block map may say, checked before anything is written: block
 * sizes from a disk sector (512, bmaptool's smallest) to 1 MiB (file
 * systems use 4 KiB, at most 64 KiB), and images up to 1 PiB, so that no
 * block number times the block size overflows. */
#define BMAP_BLOCK_MIN 512u
#define BMAP_BLOCK_MAX (1u << 20)
#define BMAP_IMAGE_MAX (1ull << 50)

void bmap_release(struct bmap *b)
{
	free(b->ranges);
	*b = (struct bmap){0};
}

uint64_t bmap_mapped_bytes(const struct bmap *b)
{
	uint64_t n = 0;
	for (size_t i = 0; i < b->n_ranges; i++) {
		uint64_t start = b->ranges[i].first * b->block_size;
		uint64_t end = (b->ranges[i].last + 1) * b->block_size;
		if (end > b->image_size)
			end = b->image_size;
		n += end > start ? end - start : 0;
	}
	return n;
}

static void add_range(struct bmap *b, uint64_t first, uint64_t last)
{
	/* Data extents that meet in one block join into one range. */
	if (b->n_ranges && b->ranges[b->n_ranges - 1].last + 1 >= first) {
		struct bmap_range *prev = &b->ranges[b->n_ranges - 1];
		if (last > prev->last)
			prev->last = last;
		return;
	}
	b->ranges = xrealloc(b->ranges, (b->n_ranges + 1) * sizeof(*b->ranges));
	b->ranges[b->n_ranges++] = (struct bmap_range){.first = first, .last = last};
}

static int hash_range(int fd, const struct bmap *b, struct bmap_range *r, unsigned char *buf,
		      size_t buflen)
{
	uint64_t pos = r->first * b->block_size, end = (r->last + 1) * b->block_size;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	int rc = 0;

	if (!md)
		abort();
	if (end > b->image_size)
		end = b->image_size;
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	while (pos < end) {
		size_t want = end - pos < buflen ? (size_t)(end - pos) : buflen;
		ssize_t got = pread(fd, buf, want, (off_t)pos);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = got < 0 ? -errno : -EIO;
			break;
		}
		EVP_DigestUpdate(md, buf, (size_t)got);
		pos += (uint64_t)got;
	}
	EVP_DigestFinal_ex(md, d, &n);
	EVP_MD_CTX_free(md);
	mk_hex(d, n, r->sha256);
	return rc;
}

int bmap_from_file(const char *raw, struct bmap *out, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(raw, O_RDONLY | O_CLOEXEC);
	struct stat st;
	struct bmap b = {.block_size = BMAP_BLOCK};
	off_t pos = 0;
	int rc = 0;

	*out = (struct bmap){0};
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot read '%s': %s", raw, strerror(errno));
		return rc;
	}
	b.image_size = (uint64_t)st.st_size;
	b.blocks_count = (b.image_size + b.block_size - 1) / b.block_size;
	while (pos < st.st_size) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO) /* no more data */
				break;
			rc = -errno;
			snprintf(err, errlen, "cannot map '%s' (SEEK_DATA): %s", raw, strerror(errno));
			bmap_release(&b);
			return rc;
		}
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot map '%s' (SEEK_HOLE): %s", raw, strerror(errno));
			bmap_release(&b);
			return rc;
		}
		uint64_t first = (uint64_t)data / b.block_size;
		uint64_t last = ((uint64_t)hole + b.block_size - 1) / b.block_size - 1;
		add_range(&b, first, last);
		pos = hole;
	}
	_cleanup_free_ unsigned char *buf = xmalloc(1 << 20);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	for (size_t i = 0; i < b.n_ranges; i++) {
		b.mapped_count += b.ranges[i].last - b.ranges[i].first + 1;
		if ((rc = hash_range(fd, &b, &b.ranges[i], buf, 1 << 20)) < 0) {
			snprintf(err, errlen, "cannot read '%s': %s", raw, strerror(-rc));
			bmap_release(&b);
			return rc;
		}
		if (mk_interrupted) {
			bmap_release(&b);
			return -MK_ERR_INTERRUPTED;
		}
	}
	*out = b;
	return 0;
}

/* bmaptool's human_size(). */
static void human_size(uint64_t size, char *out, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	if (size == 1) {
		snprintf(out, len, "1 byte");
		return;
	}
	if (size < 512) {
		snprintf(out, len, "%" PRIu64 " bytes", size);
		return;
	}
	double s = (double)size;
	for (size_t i = 0; i < ELEMENTSOF(units); i++) {
		s /= 1024.0;
		if (s < 1024) {
			snprintf(out, len, "%.1f %s", s, units[i]);
			return;
		}
	}
	snprintf(out, len, "%.1f EiB", s);
}

static const char bmap_head[] =
	"<?xml version=\"1.0\" ?>\n"
	"<!-- This file contains the block map for an image file, which is basically\n"
	"     a list of useful (mapped) block numbers in the image file. In other words,\n"
	"     it lists only those blocks which contain data (boot sector, partition\n"
	"     table, file-system metadata, files, directories, extents, etc). These\n"
	"     blocks have to be copied to the target device. The other blocks do not\n"
	"     contain any useful data and do not have to be copied to the target\n"
	"     device.\n"
	"\n"
	"     The block map an optimization which allows to copy or flash the image to\n"
	"     the image quicker than copying of flashing the entire image. This is\n"
	"     because with bmap less data is copied: <MappedBlocksCount> blocks instead\n"
	"     of <BlocksCount> blocks.\n"
	"\n"
	"     Besides the machine-readable data, this file contains useful commentaries\n"
	"     which contain human-readable information like image size, percentage of\n"
	"     mapped data, etc.\n"
	"\n"
	"     The 'version' attribute is the block map file format version in the\n"
	"     'major.minor' format. The version major number is increased whenever an\n"
	"     incompatible block map format change is made. The minor number changes\n"
	"     in case of minor backward-compatible changes. -->\n"
	"\n";

/*
 * The same bytes as bmaptool create (bmap-tools 3.6): it writes padding
 * first and overwrites it in place with the mapped size and count once
 * known; we do the same in memory, then fill in the file's own checksum,
 * computed with that field all zeros.
 */
char *bmap_format(const struct bmap *b)
{
	char isize[32], msize[32], bcount[32];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	human_size(b->image_size, isize, sizeof(isize));
	snprintf(bcount, sizeof(bcount), "%" PRIu64, b->blocks_count);
	fputs(bmap_head, f);
	fprintf(f,
		"<bmap version=\"2.0\">\n"
		"    <!-- Image size in bytes: %s -->\n"
		"    <ImageSize> %" PRIu64 " </ImageSize>\n\n"
		"    <!-- Size of a block in bytes -->\n"
		"    <BlockSize> %u </BlockSize>\n\n"
		"    <!-- Count of blocks in the image file -->\n"
		"    <BlocksCount> %" PRIu64 " </BlocksCount>\n\n",
		isize, b->image_size, b->block_size, b->blocks_count);
	fputs("    <!-- Count of mapped blocks: ", f);
	fflush(f);
	size_t pos1 = len;
	fprintf(f, "%*s or %*s   -->\n", (int)strlen(isize), "", 6, "");
	fputs("    <MappedBlocksCount> ", f);
	fflush(f);
	size_t pos2 = len;
	fprintf(f, "%*s </MappedBlocksCount>\n\n", (int)strlen(bcount), "");
	fputs("    <!-- Type of checksum used in this file -->\n"
	      "    <ChecksumType> sha256 </ChecksumType>\n\n"
	      "    <!-- The checksum of this bmap file. When it is calculated, the value of\n"
	      "         the checksum has be zero (all ASCII \"0\" symbols).  -->\n"
	      "    <BmapFileChecksum> ",
	      f);
	fflush(f);
	size_t pos3 = len;
	fprintf(f, "%064d </BmapFileChecksum>\n\n", 0);
	fputs("    <!-- The block map which consists of elements which may either be a\n"
	      "         range of blocks or a single block. The 'chksum' attribute\n"
	      "         (if present) is the checksum of this blocks range. -->\n"
	      "    <BlockMap>\n",
	      f);
	for (size_t i = 0; i < b->n_ranges; i++) {
		const struct bmap_range *r = &b->ranges[i];
		fprintf(f, "        <Range chksum=\"%s\"> %" PRIu64, r->sha256, r->first);
		if (r->last != r->first)
			fprintf(f, "-%" PRIu64, r->last);
		fputs(" </Range>\n", f);
	}
	fputs("    </BlockMap>\n</bmap>\n", f);
	fclose(f);

	char tmp[64];
	human_size(b->mapped_count * b->block_size, msize, sizeof(msize));
	double pct = b->blocks_count ? (double)b->mapped_count * 100.0 / (double)b->blocks_count : 0;
	int n = snprintf(tmp, sizeof(tmp), "%s or %.1f%%", msize, pct);
	if (pos1 + (size_t)n <= len)
		memcpy(text + pos1, tmp, (size_t)n);
	n = snprintf(tmp, sizeof(tmp), "%" PRIu64, b->mapped_count);
	memcpy(text + pos2, tmp, (size_t)n);
	char sum[65];
	mk_sha256_hex(text, len, sum);
	memcpy(text + pos3, sum, 64);
	return text;
}

/* --- parsing: enough XML for bmap files, which are flat and simple --- */

/* A decimal number of [S, E) with blanks around it and nothing else: no
 * sign (strtoull would take "-1" as 2^64-1), no overflow. */
static bool parse_u64(const char *s, const char *e, uint64_t *out)
{
	uint64_t v = 0;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	if (s == e)
		return false;
	for (; s < e; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

static const char *tag_body(const char *text, const char *end, const char *name, size_t *blen)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", name);
	snprintf(close, sizeof(close), "</%s>", name);
	const char *a = memmem(text, (size_t)(end - text), open, strlen(open));
	if (!a)
		return NULL;
	a += strlen(open);
	const char *z = memmem(a, (size_t)(end - a), close, strlen(close));
	if (!z)
		return NULL;
	*blen = (size_t)(z - a);
	return a;
}

static int tag_u64(const char *text, const char *end, const char *name, bool required,
		   uint64_t *out, char *err, size_t errlen)
{
	size_t blen;
	const char *body = tag_body(text, end, name, &blen);
	if (!body) {
		if (!required)
			return 0;
		snprintf(err, errlen, "no <%s>", name);
		return -EINVAL;
	}
	if (!parse_u64(body, body + blen, out)) {
		snprintf(err, errlen, "<%s> is not a number", name);
		return -EINVAL;
	}
	return 0;
}

int bmap_parse(const char *text, size_t len, struct bmap *out, char *err, size_t errlen)
{
	const char *end = text + len;
	struct bmap b = {.mapped_count = UINT64_MAX}; /* UINT64_MAX: no <MappedBlocksCount> */
	uint64_t bs = 0;
	int rc;

	*out = (struct bmap){0};
	const char *ver = memmem(text, len, "<bmap version=\"", 15);
	if (!ver) {
		snprintf(err, errlen, "not a bmap file (no <bmap version=...>)");
		return -EINVAL;
	}
	/* TEXT is LEN bytes, not a string: the digits end at END at the latest */
	int major = 0;
	for (const char *d = ver + 15; d < end && isdigit((unsigned char)*d) && major < 100; d++)
		major = major * 10 + (*d - '0');
	if (major < 1 || major > 2) {
		snprintf(err, errlen, "bmap format version %d is not supported (1.x and 2.x are)", major);
		return -ENOTSUP;
	}
	/* The elements, not the header comment, which names some of them. */
	if ((rc = tag_u64(ver, end, "ImageSize", true, &b.image_size, err, errlen)) < 0 ||
	    (rc = tag_u64(ver, end, "BlockSize", true, &bs, err, errlen)) < 0 ||
	    (rc = tag_u64(ver, end, "BlocksCount", true, &b.blocks_count, err, errlen)) < 0 ||
	    (rc = tag_u64(ver, end, "MappedBlocksCount", false, &b.mapped_count, err, errlen)) < 0)
		return rc;
	/* A block size of 256 once passed, and the card write then failed at
	 * byte 256 (O_DIRECT writes whole sectors) as if the card were bad. */
	if (bs < BMAP_BLOCK_MIN || bs > BMAP_BLOCK_MAX || (bs & (bs - 1))) {
		snprintf(err, errlen, "<BlockSize> %" PRIu64 " is not a power of two from %u to %u (bmaptool "
			 "writes the file system's block size, 4096)", bs, BMAP_BLOCK_MIN, BMAP_BLOCK_MAX);
		return -EINVAL;
	}
	b.block_size = (uint32_t)bs;
	if (b.image_size == 0 || b.image_size > BMAP_IMAGE_MAX) {
		snprintf(err, errlen, "<ImageSize> %" PRIu64 " is not from 1 byte to 1 PiB", b.image_size);
		return -EINVAL;
	}
	if (b.blocks_count != (b.image_size + bs - 1) / bs) {
		snprintf(err, errlen, "<BlocksCount> %" PRIu64 " does not fit <ImageSize> %" PRIu64
			 " in blocks of %" PRIu64 " bytes (that is %" PRIu64 " blocks)", b.blocks_count,
			 b.image_size, bs, (b.image_size + bs - 1) / bs);
		return -EINVAL;
	}
	size_t clen;
	const char *ctype = tag_body(ver, end, "ChecksumType", &clen);
	if (major >= 2 || ctype) {
		if (!ctype || clen < 6 || !memmem(ctype, clen, "sha256", 6)) {
			snprintf(err, errlen, "<ChecksumType> is not sha256 (the only one mkmesh checks)");
			return -ENOTSUP;
		}
		const char *fsum = tag_body(ver, end, "BmapFileChecksum", &clen);
		if (fsum) {
			while (clen && isspace((unsigned char)*fsum))
				fsum++, clen--;
			if (clen < 64) {
				snprintf(err, errlen, "<BmapFileChecksum> is not a sha256");
				return -EINVAL;
			}
			char want[65], got[65];
			memcpy(want, fsum, 64);
			want[64] = '\0';
			_cleanup_free_ char *copy = xmalloc(len);
			memcpy(copy, text, len);
			memset(copy + (fsum - text), '0', 64);
			mk_sha256_hex(copy, len, got);
			if (strcmp(want, got) != 0) {
				snprintf(err, errlen, "the bmap file is damaged (its checksum does not match)");
				return -MK_ERR_CHECKSUM;
			}
		}
	}
	const char *p = ver;
	uint64_t mapped = 0;
	while ((p = memmem(p, (size_t)(end - p), "<Range", 6))) {
		const char *gt = memchr(p, '>', (size_t)(end - p));
		const char *close = gt ? memmem(gt, (size_t)(end - gt), "</Range>", 8) : NULL;
		if (!close) {
			snprintf(err, errlen, "range %zu is not closed", b.n_ranges + 1);
			bmap_release(&b);
			return -EINVAL;
		}
		struct bmap_range r = {0};
		/*
		 * Every range must carry its sha256: 'mkmesh flash' promises that
		 * each block written was checked against the map, and without a
		 * checksum a damaged image or one that is not the map's would be
		 * written and called good. bmaptool create (format 2.0) and
		 * 'mkmesh build rpi' always write them; a map without is refused
		 * rather than trusted.
		 */
		const char *cs = memmem(p, (size_t)(gt - p), "chksum=\"", 8);
		if (!cs) {
			snprintf(err, errlen, "range %zu has no sha256 (chksum=\"...\"), so the blocks written "
				 "could not be checked; make the map with 'bmaptool create' (format 2.0) or "
				 "'mkmesh build rpi'", b.n_ranges + 1);
			bmap_release(&b);
			return -EINVAL;
		}
		cs += 8;
		const char *q = memchr(cs, '"', (size_t)(gt - cs));
		bool hex = q && q - cs == 64;
		for (int i = 0; hex && i < 64; i++) {
			hex = isxdigit((unsigned char)cs[i]);
			r.sha256[i] = (char)tolower((unsigned char)cs[i]);
		}
		if (!hex) {
			snprintf(err, errlen, "range %zu: chksum is not a sha256 (64 hex digits)", b.n_ranges + 1);
			bmap_release(&b);
			return -EINVAL;
		}
		r.sha256[64] = '\0';
		const char *body = gt + 1, *dash = memchr(body, '-', (size_t)(close - body));
		bool ok = dash ? parse_u64(body, dash, &r.first) && parse_u64(dash + 1, close, &r.last)
			       : parse_u64(body, close, &r.first);
		if (!dash)
			r.last = r.first;
		bool prev_ok = b.n_ranges == 0 || r.first > b.ranges[b.n_ranges - 1].last;
		if (!ok) {
			snprintf(err, errlen, "range %zu is not 'FIRST' or 'FIRST-LAST', block numbers in decimal",
				 b.n_ranges + 1);
			bmap_release(&b);
			return -EINVAL;
		}
		if (r.last < r.first || r.last >= b.blocks_count || !prev_ok) {
			snprintf(err, errlen, "range %zu (%" PRIu64 "-%" PRIu64 ") is not an ascending range of "
				 "blocks inside the image (blocks 0-%" PRIu64 ", after the ranges before it)",
				 b.n_ranges + 1, r.first, r.last, b.blocks_count - 1);
			bmap_release(&b);
			return -EINVAL;
		}
		b.ranges = xrealloc(b.ranges, (b.n_ranges + 1) * sizeof(*b.ranges));
		b.ranges[b.n_ranges++] = r;
		mapped += r.last - r.first + 1;
		p = close + 8;
	}
	if (b.n_ranges == 0) {
		snprintf(err, errlen, "it lists no blocks: nothing of the image would be written");
		return -EINVAL;
	}
	if (b.mapped_count != UINT64_MAX && mapped != b.mapped_count) {
		snprintf(err, errlen, "<MappedBlocksCount> %" PRIu64 " but the ranges hold %" PRIu64 " blocks",
			 b.mapped_count, mapped);
		bmap_release(&b);
		return -EINVAL;
	}
	b.mapped_count = mapped;
	*out = b;
	return 0;
}
