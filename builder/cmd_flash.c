/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mkmesh flash rpi IMAGE DEVICE: a safe, verified SD-card write.
 *
 * Refuses anything that is not a whole block device, a device that is
 * mounted or in use (any of its partitions too), the disk this system runs
 * from, a device smaller than the image, and a disk that is not removable
 * (unless --force). Then streams the image (zstd, gzip, xz or raw) and
 * writes only the blocks its .bmap lists, with O_DIRECT, checking each
 * range against the bmap's sha256 as it goes; syncs; reads every written
 * range back from the device (O_DIRECT, so not from the page cache) and
 * compares its sha256. It says what it did, and what to do on a failure.
 *
 * The image and its map come from a download: both must be regular files
 * (the map at most 16 MiB), the map is checked strictly by bmap_parse
 * (block size, counts, ranges, and a sha256 on every range, or the "checked"
 * above would be untrue), its block size must be whole sectors of the card,
 * and a raw image must have the size its map says; all before the card is
 * touched.
 */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <zlib.h>
#include <zstd.h>

#include "bmap.h"
#include "commands.h"
#include "util.h"

#define IO_CHUNK (4u << 20)
#define DIRECT_ALIGN 4096u
#define TAIL_WIPE (1ull << 20) /* a stale GPT's backup header lives at the end */
#define BMAP_MAX (16u << 20)   /* a map of a fragmented 64 GiB image is a few MiB */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh flash rpi IMAGE DEVICE [--yes] [--force] [--bmap FILE]\n"
		"\n"
		"Writes an rpi image (.img.zst, .img.xz, .img.gz or .img) to an SD card: only the\n"
		"blocks its block map (IMAGE's .img.bmap beside it) lists, then reads them back\n"
		"and checks every one against the map's sha256. The map must give a sha256 for\n"
		"every range (bmaptool create and 'mkmesh build rpi' do); one without is refused.\n"
		"\n"
		"It refuses a partition (give the whole card: /dev/sdb, /dev/mmcblk0), a card\n"
		"that is mounted or in use, the disk this system runs from, a card smaller than\n"
		"the image, and a disk that is not removable (not an SD card or USB reader)\n"
		"unless --force is given. 'lsblk -o NAME,SIZE,RM,MODEL,MOUNTPOINTS' shows them.\n"
		"\n"
		"options:\n"
		"  --bmap FILE   the block map, when it is not beside the image\n"
		"  --yes         do not ask before erasing DEVICE (needed when stdin is not a terminal)\n"
		"  --force       also write to a disk that does not say it is removable\n"
		"  -v, --verbose\n"
		"  -q, --quiet   only errors\n"
		"\n"
		"example:\n"
		"  mkmesh flash rpi images/mkmesh-rpi-1.0-arm64.img.zst /dev/sdb\n");
}

/* --- the image stream: zstd, gzip, xz (through the xz program) or raw --- */

enum src_kind { SRC_RAW, SRC_ZSTD, SRC_GZIP, SRC_XZ };

struct src {
	enum src_kind kind;
	int fd;             /* the file, or xz's stdout */
	pid_t xz;
	ZSTD_DCtx *zd;
	z_stream z;
	unsigned char *in;  /* compressed bytes */
	size_t in_len, in_pos;
	bool in_eof, end;
	uint64_t pos;       /* decompressed bytes handed out */
};

static int src_fill(struct src *s)
{
	if (s->in_pos < s->in_len || s->in_eof)
		return 0;
	ssize_t n;
	do
		n = read(s->fd, s->in, IO_CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	s->in_len = (size_t)n;
	s->in_pos = 0;
	s->in_eof = n == 0;
	return 0;
}

/* What the file FD holds, by its first bytes. */
static enum src_kind src_kind_of(int fd)
{
	unsigned char magic[6] = {0};
	ssize_t got = pread(fd, magic, sizeof(magic), 0);
	if (got >= 4 && !memcmp(magic, "\x28\xb5\x2f\xfd", 4))
		return SRC_ZSTD;
	if (got >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
		return SRC_GZIP;
	if (got >= 6 && !memcmp(magic, "\xfd" "7zXZ\0", 6))
		return SRC_XZ;
	return SRC_RAW;
}

static int src_open(struct src *s, const char *path, char *err, size_t errlen)
{
	*s = (struct src){.fd = -1, .xz = -1};
	int fd = mk_open_regular(AT_FDCWD, path, 0, NULL);
	if (fd < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, mk_strerror(fd));
		return fd;
	}
	enum src_kind kind = src_kind_of(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	s->in = xmalloc(IO_CHUNK);
	if (kind == SRC_ZSTD) {
		s->kind = SRC_ZSTD;
		s->zd = ZSTD_createDCtx();
	} else if (kind == SRC_GZIP) {
		s->kind = SRC_GZIP;
		if (inflateInit2(&s->z, 15 + 16) != Z_OK)
			abort();
	} else if (kind == SRC_XZ) {
		/* liblzma is not among our libraries: the xz program decompresses. */
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		s->kind = SRC_XZ;
		s->xz = fork();
		if (s->xz == 0) {
			dup2(fd, STDIN_FILENO);
			dup2(p[1], STDOUT_FILENO);
			execlp("xz", "xz", "-dc", "-T0", (char *)NULL);
			_exit(127);
		}
		close(p[1]);
		close(fd);
		mk_child_register(s->xz);
		fd = p[0];
	} else {
		s->kind = SRC_RAW;
	}
	s->fd = fd;
	return 0;
}

/* Up to LEN decompressed bytes; 0 at the end of the image. */
static ssize_t src_read(struct src *s, unsigned char *buf, size_t len)
{
	int r;
	if (s->kind == SRC_RAW || s->kind == SRC_XZ) {
		ssize_t n;
		do
			n = read(s->fd, buf, len);
		while (n < 0 && errno == EINTR);
		if (n > 0)
			s->pos += (uint64_t)n;
		return n < 0 ? -errno : n;
	}
	size_t out = 0;
	while (out < len && !s->end) {
		if ((r = src_fill(s)) < 0)
			return r;
		if (s->kind == SRC_ZSTD) {
			ZSTD_inBuffer ib = {s->in, s->in_len, s->in_pos};
			ZSTD_outBuffer ob = {buf, len, out};
			size_t zr = ZSTD_decompressStream(s->zd, &ob, &ib);
			if (ZSTD_isError(zr))
				return -MK_ERR_CHECKSUM;
			s->in_pos = ib.pos;
			out = ob.pos;
			if (s->in_eof && ib.pos == ib.size && ob.pos < ob.size) {
				if (zr != 0)
					return -EPIPE; /* truncated */
				s->end = true;
			}
		} else {
			s->z.next_in = s->in + s->in_pos;
			s->z.avail_in = (uInt)(s->in_len - s->in_pos);
			s->z.next_out = buf + out;
			s->z.avail_out = (uInt)(len - out);
			int zr = inflate(&s->z, Z_NO_FLUSH);
			s->in_pos = s->in_len - s->z.avail_in;
			out = len - s->z.avail_out;
			if (zr == Z_STREAM_END) {
				/* another gzip member may follow */
				if (s->in_pos == s->in_len && (src_fill(s), s->in_eof))
					s->end = true;
				else
					inflateReset(&s->z);
			} else if (zr == Z_BUF_ERROR && s->in_eof) {
				return -EPIPE;
			} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
				return -MK_ERR_CHECKSUM;
			}
		}
	}
	s->pos += out;
	return (ssize_t)out;
}

static int src_close(struct src *s)
{
	int r = 0, status;
	if (s->fd >= 0)
		close(s->fd);
	if (s->xz > 0) {
		kill(s->xz, SIGTERM);
		while (waitpid(s->xz, &status, 0) < 0 && errno == EINTR)
			;
		mk_child_forget(s->xz);
	}
	if (s->zd)
		ZSTD_freeDCtx(s->zd);
	if (s->kind == SRC_GZIP)
		inflateEnd(&s->z);
	free(s->in);
	return r;
}

/* --- the device --- */

struct device {
	char *path;       /* as given */
	char *name;       /* in /sys/block */
	dev_t rdev;
	uint64_t size;
	unsigned sector; /* logical block size: what O_DIRECT writes come in */
	bool removable;
	char *model;
	struct strv devs; /* "maj:min" of the disk and its partitions */
	struct strv part_names;
};

static void device_release(struct device *d)
{
	free(d->name);
	free(d->model);
	strv_release(&d->devs);
	strv_release(&d->part_names);
}

/* The first line of a small file (sysfs), NULL when it cannot be read. */
static char *read_line(const char *path)
{
	char *s = NULL;
	if (mk_read_regular(AT_FDCWD, path, 0, 64 << 10, &s, NULL) < 0)
		return NULL;
	s[strcspn(s, "\n")] = '\0';
	size_t l = strlen(s);
	while (l && isspace((unsigned char)s[l - 1]))
		s[--l] = '\0';
	return s;
}

/* The whole disk (its /sys/block name) that holds maj:min, through
 * partitions and device-mapper/md layers; adds every one to OUT. */
static void disks_below(unsigned maj, unsigned min, struct strv *out, int depth)
{
	_cleanup_free_ char *link = xasprintf("/sys/dev/block/%u:%u", maj, min);
	_cleanup_free_ char *real = realpath(link, NULL);
	if (!real || depth > 8)
		return;
	_cleanup_free_ char *part = xasprintf("%s/partition", real);
	char *base = strrchr(real, '/');
	if (mk_path_exists(part)) {
		*base = '\0'; /* the parent directory is the disk */
		base = strrchr(real, '/');
	}
	if (!strv_contains(out, base + 1))
		strv_push(out, base + 1);
	_cleanup_free_ char *slaves = xasprintf("%s/slaves", real);
	DIR *dir = opendir(slaves);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *devf = xasprintf("%s/%s/dev", slaves, de->d_name);
		_cleanup_free_ char *mm = read_line(devf);
		unsigned a, b;
		if (mm && sscanf(mm, "%u:%u", &a, &b) == 2)
			disks_below(a, b, out, depth + 1);
	}
	if (dir)
		closedir(dir);
}

static int device_open_checks(struct device *d, const char *path, uint64_t image_size, bool force,
			      char *err, size_t errlen)
{
	struct stat st;
	d->path = (char *)path;
	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "'%s': %s; 'lsblk' lists the disks", path, strerror(errno));
		return -errno;
	}
	if (!S_ISBLK(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a block device; give the whole SD card, e.g. /dev/sdb or "
			 "/dev/mmcblk0 ('lsblk' lists them)", path);
		return -ENOTBLK;
	}
	d->rdev = st.st_rdev;
	_cleanup_free_ char *link = xasprintf("/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
	_cleanup_free_ char *real = realpath(link, NULL);
	if (!real) {
		snprintf(err, errlen, "'%s': not found in /sys/dev/block", path);
		return -ENODEV;
	}
	_cleanup_free_ char *partf = xasprintf("%s/partition", real);
	if (mk_path_exists(partf)) {
		char *slash = strrchr(real, '/');
		*slash = '\0';
		snprintf(err, errlen, "'%s' is a partition; give the whole card: /dev/%s", path,
			 strrchr(real, '/') + 1);
		return -EINVAL;
	}
	d->name = xstrdup(strrchr(real, '/') + 1);
	strv_push_take(&d->devs, xasprintf("%u:%u", major(st.st_rdev), minor(st.st_rdev)));
	DIR *dir = opendir(real);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		_cleanup_free_ char *pf = xasprintf("%s/%s/partition", real, de->d_name);
		if (de->d_name[0] == '.' || !mk_path_exists(pf))
			continue;
		_cleanup_free_ char *devf = xasprintf("%s/%s/dev", real, de->d_name);
		char *mm = read_line(devf);
		if (mm) {
			strv_push_take(&d->devs, mm);
			strv_push(&d->part_names, de->d_name);
		}
	}
	if (dir)
		closedir(dir);

	/* The disk this system runs from: what / is on, through its layers. */
	_cleanup_fclose_ FILE *mi = fopen("/proc/self/mountinfo", "re");
	struct strv sysdisks = {0};
	char line[4096];
	while (mi && fgets(line, sizeof(line), mi)) {
		unsigned a, b;
		char mnt[2048];
		if (sscanf(line, "%*s %*s %u:%u %*s %2047s", &a, &b, mnt) == 3 && !strcmp(mnt, "/"))
			disks_below(a, b, &sysdisks, 0);
	}
	bool sys = strv_contains(&sysdisks, d->name);
	strv_release(&sysdisks);
	if (sys) {
		snprintf(err, errlen, "'%s' is the disk this system runs from; refusing to overwrite it", path);
		return -EBUSY;
	}
	/* Mounted, the disk itself or any partition of it. */
	if (mi)
		rewind(mi);
	while (mi && fgets(line, sizeof(line), mi)) {
		char mm[64], mnt[2048];
		if (sscanf(line, "%*s %*s %63s %*s %2047s", mm, mnt) == 2 && strv_contains(&d->devs, mm)) {
			snprintf(err, errlen, "'%s' is mounted (%s on %.300s); unmount it first, e.g. 'umount %.300s'",
				 path, mm, mnt, mnt);
			return -EBUSY;
		}
	}
	/* In use by a device-mapper or md layer (LVM, LUKS, RAID), or as swap. */
	struct strv names = {0};
	strv_push(&names, d->name);
	for (size_t i = 0; i < d->part_names.n; i++)
		strv_push_take(&names, xasprintf("%s/%s", d->name, d->part_names.v[i]));
	for (size_t i = 0; i < names.n; i++) {
		_cleanup_free_ char *holders = xasprintf("/sys/block/%s/holders", names.v[i]);
		DIR *h = opendir(holders);
		while (h && (de = readdir(h))) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(err, errlen, "'%s' is in use by /dev/%s (device-mapper or RAID); stop that first",
				 path, de->d_name);
			closedir(h);
			strv_release(&names);
			return -EBUSY;
		}
		if (h)
			closedir(h);
	}
	strv_release(&names);
	_cleanup_fclose_ FILE *sw = fopen("/proc/swaps", "re");
	while (sw && fgets(line, sizeof(line), sw)) {
		char dev[1024];
		struct stat ss;
		if (sscanf(line, "%1023s", dev) == 1 && stat(dev, &ss) == 0 && S_ISBLK(ss.st_mode)) {
			_cleanup_free_ char *mm = xasprintf("%u:%u", major(ss.st_rdev), minor(ss.st_rdev));
			if (strv_contains(&d->devs, mm)) {
				snprintf(err, errlen, "'%s' holds active swap (%.300s); 'swapoff %.300s' first", path,
					 dev, dev);
				return -EBUSY;
			}
		}
	}

	_cleanup_free_ char *szf = xasprintf("/sys/block/%s/size", d->name);
	_cleanup_free_ char *sz = read_line(szf);
	d->size = sz ? strtoull(sz, NULL, 10) * 512 : 0;
	_cleanup_free_ char *lbf = xasprintf("/sys/block/%s/queue/logical_block_size", d->name);
	_cleanup_free_ char *lb = read_line(lbf);
	d->sector = lb ? (unsigned)strtoul(lb, NULL, 10) : 512; /* 512 when the kernel does not say */
	if (d->size < image_size) {
		snprintf(err, errlen, "'%s' holds %.1f MiB, the image needs %.1f MiB; use a larger card", path,
			 d->size / 1048576.0, image_size / 1048576.0);
		return -ENOSPC;
	}
	/* SD cards in a built-in reader (mmcblk) do not say they are removable. */
	_cleanup_free_ char *rmf = xasprintf("/sys/block/%s/removable", d->name);
	_cleanup_free_ char *rm = read_line(rmf);
	d->removable = (rm && !strcmp(rm, "1")) || !strncmp(d->name, "mmcblk", 6) || strstr(real, "/usb");
	_cleanup_free_ char *vf = xasprintf("/sys/block/%s/device/vendor", d->name);
	_cleanup_free_ char *mf = xasprintf("/sys/block/%s/device/model", d->name);
	_cleanup_free_ char *vendor = read_line(vf), *model = read_line(mf);
	_cleanup_free_ char *bf = xasprintf("/sys/block/%s/loop/backing_file", d->name);
	_cleanup_free_ char *backing = read_line(bf);
	if (backing)
		d->model = xasprintf("loop device on %s", backing);
	else
		d->model = xasprintf("%s%s%s", vendor ? vendor : "", vendor && model ? " " : "",
				     model ? model : (vendor ? "" : "no model name"));
	if (!d->removable && !force) {
		snprintf(err, errlen, "'%s' (%s, %.1f GiB) is not a removable disk, so it is not an SD card or "
			 "USB reader; if you are sure, add --force", path, d->model, d->size / 1073741824.0);
		return -EPERM;
	}
	return 0;
}

static bool confirm(const struct device *d)
{
	char answer[16] = "";
	fprintf(stderr, "mkmesh: everything on '%s' (%s, %.1f GiB) will be erased. Type 'yes' to go on: ",
		d->path, d->model, d->size / 1073741824.0);
	if (!fgets(answer, sizeof(answer), stdin))
		return false;
	answer[strcspn(answer, "\n")] = '\0';
	return !strcmp(answer, "yes");
}

static int pwrite_full(int fd, const unsigned char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t w = pwrite(fd, buf, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -ENOSPC;
		buf += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

static int pread_full(int fd, unsigned char *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		buf += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

struct flash {
	const char *image, *bmap_path;
	struct bmap map;
	struct device dev;
	int fd;
	unsigned char *buf; /* aligned, IO_CHUNK */
	char (*src_sums)[65];
	uint64_t written, mapped;
	char err[2048];
};

static size_t direct_len(const struct flash *f, size_t n)
{
	size_t s = f->dev.sector; /* a power of two, checked before writing */
	return (n + s - 1) & ~(s - 1); /* whole sectors, as O_DIRECT wants */
}

/* Streams the image and writes the mapped ranges. */
static int write_ranges(struct flash *f)
{
	struct src s;
	struct mk_progress prog;
	int rc = src_open(&s, f->image, f->err, sizeof(f->err));
	if (rc < 0)
		return rc;
	mk_progress_begin(&prog, "writing", f->mapped);
	for (size_t i = 0; i < f->map.n_ranges && rc == 0; i++) {
		const struct bmap_range *r = &f->map.ranges[i];
		uint64_t start = r->first * f->map.block_size, end = (r->last + 1) * f->map.block_size;
		if (end > f->map.image_size)
			end = f->map.image_size;
		/* Skip (decompress and drop) up to the range. */
		while (s.pos < start && rc == 0) {
			size_t want = start - s.pos < IO_CHUNK ? (size_t)(start - s.pos) : IO_CHUNK;
			ssize_t n = src_read(&s, f->buf, want);
			if (n <= 0)
				rc = n < 0 ? (int)n : -EPIPE;
		}
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		uint64_t at = start;
		while (at < end && rc == 0) {
			size_t want = end - at < IO_CHUNK ? (size_t)(end - at) : IO_CHUNK;
			size_t have = 0;
			while (have < want && rc == 0) {
				ssize_t n = src_read(&s, f->buf + have, want - have);
				if (n <= 0)
					rc = n < 0 ? (int)n : -EPIPE;
				else
					have += (size_t)n;
			}
			if (rc < 0)
				break;
			EVP_DigestUpdate(md, f->buf, have);
			size_t wlen = direct_len(f, have);
			memset(f->buf + have, 0, wlen - have);
			if ((rc = pwrite_full(f->fd, f->buf, wlen, at)) < 0) {
				mk_progress_end(&prog);
				snprintf(f->err, sizeof(f->err),
					 "writing to '%s' failed at byte %" PRIu64 " (%.1f of %.1f MiB written): %s.\n"
					 "  The card is incomplete and will not boot. Check the card and the reader "
					 "(a worn or fake card fails like this), then run 'mkmesh flash' again",
					 f->dev.path, at, f->written / 1048576.0, f->mapped / 1048576.0, strerror(-rc));
				EVP_MD_CTX_free(md);
				src_close(&s);
				return rc;
			}
			at += have;
			f->written += wlen;
			mk_progress_update(&prog, f->written);
			if (mk_interrupted)
				rc = -MK_ERR_INTERRUPTED;
		}
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dn = 0;
		EVP_DigestFinal_ex(md, d, &dn);
		EVP_MD_CTX_free(md);
		mk_hex(d, dn, f->src_sums[i]);
		/* bmap_parse made sure every range has its sha256 */
		if (rc == 0 && strcmp(r->sha256, f->src_sums[i]) != 0) {
			snprintf(f->err, sizeof(f->err),
				 "the image does not match its block map at blocks %" PRIu64 "-%" PRIu64
				 ": '%s' is damaged or '%s' belongs to another image; the card is incomplete. "
				 "Download the image again (check it with 'sha256sum -c SHA256SUMS')",
				 r->first, r->last, f->image, f->bmap_path);
			rc = -MK_ERR_CHECKSUM;
		}
	}
	mk_progress_end(&prog);
	if (rc < 0 && !f->err[0]) {
		if (rc == -MK_ERR_INTERRUPTED)
			snprintf(f->err, sizeof(f->err), "interrupted; the card '%s' is incomplete", f->dev.path);
		else if (rc == -EPIPE)
			snprintf(f->err, sizeof(f->err), "'%s' ends before the block map does: the download is "
				 "incomplete; nothing after byte %" PRIu64 " was written", f->image, s.pos);
		else
			snprintf(f->err, sizeof(f->err), "cannot read the image '%s': %s", f->image,
				 rc == -MK_ERR_CHECKSUM ? "it is damaged (decompression failed)" : strerror(-rc));
	}
	src_close(&s);
	return rc;
}

/* Zeros at the end of the card, where an old GPT's backup header would
 * make tools doubt our MBR. Outside the image only. */
static int wipe_tail(struct flash *f, uint64_t *wiped)
{
	uint64_t from = f->dev.size > TAIL_WIPE ? f->dev.size - TAIL_WIPE : 0;
	uint64_t img_end = (f->map.image_size + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
	*wiped = 0;
	if (from < img_end)
		from = img_end;
	if (from >= f->dev.size)
		return 0;
	memset(f->buf, 0, TAIL_WIPE);
	int rc = pwrite_full(f->fd, f->buf, (size_t)(f->dev.size - from), from);
	if (rc < 0) {
		snprintf(f->err, sizeof(f->err), "writing to '%s' failed at byte %" PRIu64 ": %s", f->dev.path,
			 from, strerror(-rc));
		return rc;
	}
	*wiped = f->dev.size - from;
	f->written += *wiped;
	return 0;
}

static int verify_ranges(struct flash *f)
{
	struct mk_progress prog;
	uint64_t done = 0;
	mk_progress_begin(&prog, "verifying", f->mapped);
	for (size_t i = 0; i < f->map.n_ranges; i++) {
		const struct bmap_range *r = &f->map.ranges[i];
		uint64_t at = r->first * f->map.block_size, end = (r->last + 1) * f->map.block_size;
		if (end > f->map.image_size)
			end = f->map.image_size;
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(md, EVP_sha256(), NULL);
		while (at < end) {
			size_t want = end - at < IO_CHUNK ? (size_t)(end - at) : IO_CHUNK;
			int rc = pread_full(f->fd, f->buf, direct_len(f, want), at);
			if (rc < 0) {
				mk_progress_end(&prog);
				EVP_MD_CTX_free(md);
				snprintf(f->err, sizeof(f->err), "reading '%s' back failed at byte %" PRIu64 ": %s; "
					 "the card cannot be trusted", f->dev.path, at, strerror(-rc));
				return rc;
			}
			EVP_DigestUpdate(md, f->buf, want);
			at += want;
			done += want;
			mk_progress_update(&prog, done);
		}
		unsigned char d[EVP_MAX_MD_SIZE];
		unsigned dn = 0;
		char got[65];
		EVP_DigestFinal_ex(md, d, &dn);
		EVP_MD_CTX_free(md);
		mk_hex(d, dn, got);
		if (strcmp(got, f->src_sums[i]) != 0) {
			mk_progress_end(&prog);
			snprintf(f->err, sizeof(f->err),
				 "'%s' does not hold what was written at blocks %" PRIu64 "-%" PRIu64
				 " (read back differs): the card or the reader is faulty; try another card",
				 f->dev.path, r->first, r->last);
			return -MK_ERR_CHECKSUM;
		}
	}
	mk_progress_end(&prog);
	return 0;
}

static char *default_bmap(const char *image)
{
	static const char *const exts[] = {".zst", ".xz", ".gz"};
	size_t l = strlen(image);
	for (size_t i = 0; i < ELEMENTSOF(exts); i++) {
		size_t e = strlen(exts[i]);
		if (l > e && !strcmp(image + l - e, exts[i]))
			return xasprintf("%.*s.bmap", (int)(l - e), image);
	}
	return xasprintf("%s.bmap", image);
}

int cmd_flash(int argc, char **argv)
{
	static const struct option opts[] = {
		{"yes", no_argument, NULL, 'y'},     {"force", no_argument, NULL, 'f'},
		{"bmap", required_argument, NULL, 'b'}, {"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool yes = false, force = false;
	_cleanup_free_ char *bmap_path = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "yfb:vqh", opts, NULL)) != -1) {
		switch (c) {
		case 'y': yes = true; break;
		case 'f': force = true; break;
		case 'b': free(bmap_path); bmap_path = xstrdup(optarg); break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "rpi") != 0) {
		mk_log_error("'mkmesh flash' writes SD cards for the target 'rpi', not '%s'", argv[optind]);
		return 2;
	}
	struct flash f = {.image = argv[optind + 1], .fd = -1};
	const char *device = argv[optind + 2];
	if (!bmap_path)
		bmap_path = default_bmap(f.image);
	f.bmap_path = bmap_path;

	_cleanup_free_ char *text = NULL;
	size_t tlen = 0;
	if ((rc = mk_read_regular(AT_FDCWD, bmap_path, 0, BMAP_MAX, &text, &tlen)) < 0) {
		if (rc == -ENOENT)
			mk_log_error("cannot read the block map '%s': %s; it is written beside the image by "
				     "'mkmesh build rpi' (or give it with --bmap FILE)", bmap_path, mk_strerror(rc));
		else
			mk_log_error("cannot read the block map '%s': %s; give the .bmap file of the image "
				     "(from the same release) with --bmap FILE", bmap_path,
				     rc == -EFBIG ? "it is larger than 16 MiB, so not a block map" : mk_strerror(rc));
		return 1;
	}
	if ((rc = bmap_parse(text, tlen, &f.map, f.err, sizeof(f.err))) < 0) {
		mk_log_error("'%s': %s", bmap_path, f.err);
		return 1;
	}
	uint64_t isize = 0;
	int ifd = mk_open_regular(AT_FDCWD, f.image, 0, &isize);
	if (ifd < 0) {
		mk_log_error("cannot read the image '%s': %s%s", f.image, mk_strerror(ifd),
			     ifd == -MK_ERR_NOT_REGULAR ? "; give the image file itself (.img.zst, .img.xz, "
							  ".img.gz or .img)" : "");
		bmap_release(&f.map);
		return 1;
	}
	/* A raw image is the map's image byte for byte: its size tells another one. */
	bool raw = src_kind_of(ifd) == SRC_RAW;
	close(ifd);
	if (raw && isize != f.map.image_size) {
		mk_log_error("the image '%s' has %" PRIu64 " bytes, its block map '%s' says %" PRIu64
			     ": they are not of the same image; use the .bmap that came with it",
			     f.image, isize, bmap_path, f.map.image_size);
		bmap_release(&f.map);
		return 1;
	}
	f.mapped = bmap_mapped_bytes(&f.map);
	if ((rc = device_open_checks(&f.dev, device, f.map.image_size, force, f.err, sizeof(f.err))) < 0) {
		mk_log_error("%s", f.err);
		device_release(&f.dev);
		bmap_release(&f.map);
		return 1;
	}
	/* O_DIRECT writes whole sectors at sector offsets: a block of the map
	 * must be whole sectors of the card, or the write fails halfway, as if
	 * the card were bad. */
	unsigned sector = f.dev.sector;
	if (sector < 512 || sector > DIRECT_ALIGN || (sector & (sector - 1)) || f.map.block_size % sector) {
		mk_log_error("'%s' has sectors of %u bytes and the block map '%s' blocks of %u bytes: %s; "
			     "make the map again with 'bmaptool create' (blocks of 4096 bytes)", device, sector,
			     bmap_path, f.map.block_size,
			     sector < 512 || sector > DIRECT_ALIGN || (sector & (sector - 1))
				     ? "mkmesh writes sectors of 512 to 4096 bytes only"
				     : "a block must be a whole number of sectors");
		device_release(&f.dev);
		bmap_release(&f.map);
		return 1;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			mk_log_error("not asking on a non-terminal; to erase '%s' without a question, add --yes",
				     device);
			rc = -EPERM;
		} else if (!confirm(&f.dev)) {
			mk_log_error("nothing written to '%s'", device);
			rc = -ECANCELED;
		}
	}
	if (rc == 0) {
		/* O_EXCL: the kernel refuses while anything else holds the device. */
		f.fd = open(device, O_RDWR | O_EXCL | O_DIRECT | O_CLOEXEC);
		if (f.fd < 0) {
			rc = -errno;
			mk_log_error("cannot open '%s' for writing: %s%s", device, strerror(errno),
				     errno == EBUSY ? " (something is using it: a mount, a mapping)" : "");
		}
	}
	if (rc < 0) {
		device_release(&f.dev);
		bmap_release(&f.map);
		return 1;
	}

	double t0 = mk_now();
	uint64_t wiped = 0;
	if (posix_memalign((void **)&f.buf, DIRECT_ALIGN, IO_CHUNK) != 0)
		abort();
	f.src_sums = xcalloc(f.map.n_ranges ? f.map.n_ranges : 1, sizeof(*f.src_sums));
	mk_log_info("writing %.1f MiB of '%s' (%zu ranges of a %.1f MiB image) to '%s' (%s, %.1f GiB)",
		    f.mapped / 1048576.0, f.image, f.map.n_ranges, f.map.image_size / 1048576.0, device,
		    f.dev.model, f.dev.size / 1073741824.0);
	rc = write_ranges(&f);
	if (rc == 0)
		rc = wipe_tail(&f, &wiped);
	if (rc == 0 && fsync(f.fd) < 0) {
		rc = -errno;
		snprintf(f.err, sizeof(f.err), "syncing '%s' failed: %s; the card cannot be trusted", device,
			 strerror(errno));
	}
	double t_write = mk_now() - t0;
	if (rc == 0) {
		/* Nothing of it may come from a cache: drop the buffers, read O_DIRECT. */
		ioctl(f.fd, BLKFLSBUF, 0);
		rc = verify_ranges(&f);
	}
	if (rc == 0)
		ioctl(f.fd, BLKRRPART, 0); /* the new partitions appear; harmless if it cannot */
	close(f.fd);
	if (rc < 0) {
		mk_log_error("%s", f.err);
	} else {
		printf("mkmesh: wrote '%s' to '%s' (%s, %.1f GiB): %.1f MiB in %zu ranges, "
		       "the blocks of the %.1f MiB image that hold data",
		       f.image, device, f.dev.model, f.dev.size / 1073741824.0, (f.written - wiped) / 1048576.0,
		       f.map.n_ranges, f.map.image_size / 1048576.0);
		if (wiped)
			printf(", and zeros over the card's last %.0f KiB (where an old partition table's "
			       "backup could confuse tools)", wiped / 1024.0);
		printf(", in %.0fs; synced, read back and checked against the block map's sha256 in "
		       "%.0fs.\nmkmesh: the card can be removed. On first boot its root file system grows "
		       "to the whole card.\n",
		       t_write, mk_now() - t0 - t_write);
		if (getenv("MKMESH_FLASH_STATS"))
			fprintf(stderr, "bytes_written=%" PRIu64 " mapped_bytes=%" PRIu64 "\n", f.written, f.mapped);
	}
	free(f.buf);
	free(f.src_sums);
	device_release(&f.dev);
	bmap_release(&f.map);
	return rc < 0 ? 1 : 0;
}
