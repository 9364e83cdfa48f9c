/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "output.h"

#include "grammar.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>
#include <zstd.h>

#include "util.h"

#define CHUNK (1 << 20)

/* The compressed bytes go to the file and into the running sha256. */
struct sink {
	int fd;
	EVP_MD_CTX *md;
	uint64_t size;
};

static int sink_write(struct sink *s, const void *buf, size_t len)
{
	const char *p = buf;
	EVP_DigestUpdate(s->md, buf, len);
	s->size += len;
	while (len) {
		ssize_t w = write(s->fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * gzip, in parallel as pigz does: the disk is cut into chunks, each deflated
 * on its own and ended with a full flush, so the pieces concatenate into one
 * deflate stream. The output depends only on the input, not on the number of
 * threads. Chunks of zeros (most of a fresh disk) are deflated once.
 */
#define GZ_CHUNK (4u << 20)
#define GZ_LEVEL 6

struct gz_job {
	const char *cache;  /* directory of deflated chunks by content, or NULL */
	char name[65];      /* the chunk's sha256, when cached */
	const unsigned char *in;
	size_t len;
	unsigned char *out;
	size_t out_len, out_cap;
	uLong crc;
	int r;
	bool zero;      /* all zeros: the shared zero chunk's output is used */
	bool threaded;
	pthread_t thread;
};

/* A cached chunk: its CRC-32 (4 bytes, little-endian), then its deflate. */
static bool gz_cache_get(struct gz_job *j)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.%d.z", j->cache, j->name, GZ_LEVEL);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char crc[4];
	if (fd < 0 || read(fd, crc, 4) != 4)
		return false;
	ssize_t n = read(fd, j->out, j->out_cap);
	if (n <= 0)
		return false;
	j->out_len = (size_t)n;
	j->crc = (uLong)crc[0] | (uLong)crc[1] << 8 | (uLong)crc[2] << 16 | (uLong)crc[3] << 24;
	utimensat(AT_FDCWD, path, NULL, 0); /* used by this build */
	return true;
}

static void gz_cache_put(const struct gz_job *j)
{
	_cleanup_free_ char *path = xasprintf("%s/%s.%d.z", j->cache, j->name, GZ_LEVEL);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp%d", path, (int)gettid());
	unsigned char crc[4] = {(unsigned char)j->crc, (unsigned char)(j->crc >> 8),
				(unsigned char)(j->crc >> 16), (unsigned char)(j->crc >> 24)};
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return; /* a cache: losing an entry costs time, nothing else */
	if (write(fd, crc, 4) != 4 || write(fd, j->out, j->out_len) != (ssize_t)j->out_len ||
	    rename(tmp, path) < 0)
		unlink(tmp);
}

static void *gz_deflate_chunk(void *arg)
{
	struct gz_job *j = arg;
	z_stream z = {0};
	if (j->cache) {
		mk_sha256_hex(j->in, j->len, j->name);
		if (gz_cache_get(j)) {
			j->r = 0;
			return NULL;
		}
	}
	j->crc = crc32(0L, j->in, (uInt)j->len);
	if (deflateInit2(&z, GZ_LEVEL, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		j->r = -ENOMEM;
		return NULL;
	}
	z.next_in = (unsigned char *)j->in;
	z.avail_in = (uInt)j->len;
	z.next_out = j->out;
	z.avail_out = (uInt)j->out_cap;
	int zr = deflate(&z, Z_FULL_FLUSH);
	j->out_len = j->out_cap - z.avail_out;
	j->r = (zr == Z_OK && z.avail_in == 0) ? 0 : -EIO;
	deflateEnd(&z);
	if (j->cache && j->r == 0)
		gz_cache_put(j);
	return NULL;
}

static bool all_zero(const unsigned char *p, size_t n)
{
	static const unsigned char zero[4096];
	for (size_t off = 0; off < n; off += sizeof(zero)) {
		size_t len = n - off < sizeof(zero) ? n - off : sizeof(zero);
		if (memcmp(p + off, zero, len) != 0)
			return false;
	}
	return true;
}

static ssize_t read_full(int fd, unsigned char *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int gzip_stream(int in, struct sink *s, uint64_t total, struct mk_progress *prog,
		       const char *cache)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	size_t n_jobs = cpus > 1 ? (size_t)cpus : 1;
	size_t cap = compressBound(GZ_CHUNK) + 64;
	struct gz_job *jobs = xcalloc(n_jobs, sizeof(*jobs));
	unsigned char *inbuf = xmalloc(n_jobs * GZ_CHUNK);
	/* mtime 0 and OS "unix" as zlib writes them: stable bytes. */
	static const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	static const unsigned char final_block[2] = {0x03, 0x00};
	struct gz_job zero = {.in = xcalloc(1, GZ_CHUNK), .len = GZ_CHUNK, .out_cap = cap};
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t done = 0;
	int r;

	zero.out = xmalloc(cap);
	gz_deflate_chunk(&zero);
	for (size_t i = 0; i < n_jobs; i++) {
		jobs[i].out_cap = cap;
		jobs[i].out = xmalloc(cap);
	}
	r = zero.r ? zero.r : sink_write(s, header, sizeof(header));
	while (r == 0) {
		size_t filled = 0;
		bool eof = false;
		for (; filled < n_jobs && !eof; filled++) {
			ssize_t n = read_full(in, inbuf + filled * GZ_CHUNK, GZ_CHUNK);
			if (n < 0) {
				r = (int)n;
				break;
			}
			if (n == 0) {
				eof = true;
				break;
			}
			jobs[filled] = (struct gz_job){.cache = cache, .in = inbuf + filled * GZ_CHUNK,
						       .len = (size_t)n, .out = jobs[filled].out,
						       .out_cap = cap};
			eof = (size_t)n < GZ_CHUNK;
		}
		for (size_t i = 0; i < filled && r == 0; i++) {
			struct gz_job *j = &jobs[i];
			j->zero = j->len == GZ_CHUNK && all_zero(j->in, j->len);
			if (j->zero)
				continue;
			j->threaded = pthread_create(&j->thread, NULL, gz_deflate_chunk, j) == 0;
			if (!j->threaded)
				gz_deflate_chunk(j);
		}
		for (size_t i = 0; i < filled; i++) {
			struct gz_job *j = &jobs[i];
			if (j->threaded)
				pthread_join(j->thread, NULL);
			if (r)
				continue;
			const struct gz_job *o = j->zero ? &zero : j;
			if (o->r) {
				r = o->r;
				continue;
			}
			crc = crc32_combine(crc, o->crc, (z_off_t)j->len);
			r = sink_write(s, o->out, o->out_len);
			done += j->len;
		}
		mk_progress_update(prog, done < total ? done : total);
		if (mk_interrupted)
			r = -MK_ERR_INTERRUPTED;
		if (eof || filled == 0)
			break;
	}
	if (r == 0) {
		unsigned char trailer[8];
		for (int i = 0; i < 4; i++) {
			trailer[i] = (unsigned char)(crc >> (8 * i));
			trailer[4 + i] = (unsigned char)(done >> (8 * i));
		}
		r = sink_write(s, final_block, sizeof(final_block));
		if (r == 0)
			r = sink_write(s, trailer, sizeof(trailer));
	}
	for (size_t i = 0; i < n_jobs; i++)
		free(jobs[i].out);
	free(jobs);
	free(inbuf);
	free((void *)zero.in);
	free(zero.out);
	return r;
}

static int zstd_stream(int in, struct sink *s, uint64_t total, struct mk_progress *prog)
{
	ZSTD_CCtx *cz = ZSTD_createCCtx();
	_cleanup_free_ unsigned char *ibuf = xmalloc(CHUNK), *obuf = xmalloc(CHUNK);
	uint64_t done = 0;
	int r = 0;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!cz)
		return -ENOMEM;
	ZSTD_CCtx_setParameter(cz, ZSTD_c_compressionLevel, 12);
	ZSTD_CCtx_setParameter(cz, ZSTD_c_nbWorkers, cpus > 1 ? (int)cpus : 0);
	ZSTD_CCtx_setParameter(cz, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setPledgedSrcSize(cz, total);
	for (;;) {
		ssize_t n = read(in, ibuf, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		done += (uint64_t)n;
		mk_progress_update(prog, done);
		ZSTD_EndDirective mode = n == 0 ? ZSTD_e_end : ZSTD_e_continue;
		ZSTD_inBuffer ib = {ibuf, (size_t)n, 0};
		bool finished = false;
		while (!finished) {
			ZSTD_outBuffer ob = {obuf, CHUNK, 0};
			size_t left = ZSTD_compressStream2(cz, &ob, &ib, mode);
			if (ZSTD_isError(left)) {
				r = -EIO;
				break;
			}
			if ((r = sink_write(s, obuf, ob.pos)) < 0)
				break;
			finished = mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size;
		}
		if (r < 0 || n == 0)
			break;
		if (mk_interrupted) {
			r = -MK_ERR_INTERRUPTED;
			break;
		}
	}
	ZSTD_freeCCtx(cz);
	return r;
}

/*
 * xz through the xz program (liblzma is not among our libraries): its
 * stdin is the raw disk itself, its stdout comes back here into the sink.
 * Progress is read off the file offset xz shares with us.
 */
static int xz_stream(int in, struct sink *s, struct mk_progress *prog)
{
	int p[2], status = 0, r = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		r = -errno;
		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		dup2(in, STDIN_FILENO);
		dup2(p[1], STDOUT_FILENO);
		execlp("xz", "xz", "-T0", "-6", "-c", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	mk_child_register(pid);
	_cleanup_free_ unsigned char *buf = xmalloc(CHUNK);
	for (;;) {
		ssize_t n = read(p[0], buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				r = -errno;
			break;
		}
		if ((r = sink_write(s, buf, (size_t)n)) < 0)
			break;
		off_t at = lseek(in, 0, SEEK_CUR);
		if (at > 0)
			mk_progress_update(prog, (uint64_t)at);
		if (mk_interrupted) {
			r = -MK_ERR_INTERRUPTED;
			break;
		}
	}
	close(p[0]);
	if (r < 0)
		kill(pid, SIGTERM);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	mk_child_forget(pid);
	if (r == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		r = WIFEXITED(status) && WEXITSTATUS(status) == 127 ? -ENOENT : -MK_ERR_CHILD;
	return r;
}

/* Bytes of FD from FROM to END in 4 KiB blocks that are not all zeros
 * (holes are skipped; ext4's zeroed inode tables are data but compress to
 * nothing, so they must not count). */
static uint64_t nonzero_bytes(int fd, off_t from, off_t end)
{
	enum { BLK = 4096, BUF = 1 << 20 };
	_cleanup_free_ unsigned char *buf = xmalloc(BUF);
	uint64_t n = 0;
	off_t at = from;
	while (at < end) {
		off_t data = lseek(fd, at, SEEK_DATA);
		if (data < 0 || data >= end)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > end)
			hole = end;
		for (off_t p = data; p < hole;) {
			size_t want = (size_t)(hole - p < BUF ? hole - p : BUF);
			ssize_t got = pread(fd, buf, want, p);
			if (got <= 0)
				return n;
			for (ssize_t b = 0; b < got; b += BLK) {
				size_t len = (size_t)(got - b < BLK ? got - b : BLK);
				if (!all_zero(buf + b, len))
					n += len;
			}
			p += got;
		}
		at = hole;
	}
	return n;
}

/* How big the whole output would have been, had WRITTEN bytes of it
 * covered the input up to where IN was read: the rest of the disk's
 * non-zero blocks taken to compress as those before. */
static uint64_t estimate_need(int in, off_t size, uint64_t written)
{
	off_t at = lseek(in, 0, SEEK_CUR);
	if (at <= 0 || !written)
		return 0;
	uint64_t done = nonzero_bytes(in, 0, at), rest = nonzero_bytes(in, at, size);
	if (!done)
		return 0;
	return written + (uint64_t)((double)written * (double)rest / (double)done);
}

static void md_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_DigestFinal_ex(md, d, &n);
	mk_hex(d, n, out);
}

int output_compress(const char *raw, const char *dest, const char *method, const char *cache,
		    struct output_file *res, char *err, size_t errlen)
{
	_cleanup_close_ int in = open(raw, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	struct mk_progress prog;
	int r;

	if (in < 0 || fstat(in, &st) < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", raw, strerror(errno));
		return -errno;
	}
	posix_fadvise(in, 0, 0, POSIX_FADV_SEQUENTIAL);
	/* A dot name, so that a glob for images never sees a half-written one. */
	const char *base = strrchr(dest, '/');
	tmp = base ? xasprintf("%.*s/.%s.tmp", (int)(base - dest), dest, base + 1)
		   : xasprintf(".%s.tmp", dest);
	mk_temp_register(tmp);
	struct sink s = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
	if (s.fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		mk_temp_forget(tmp);
		return r;
	}
	s.md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(s.md, EVP_sha256(), NULL);
	mk_progress_begin(&prog, method, (uint64_t)st.st_size);
	if (!strcmp(method, "gzip"))
		r = gzip_stream(in, &s, (uint64_t)st.st_size, &prog, cache);
	else if (!strcmp(method, "zstd"))
		r = zstd_stream(in, &s, (uint64_t)st.st_size, &prog);
	else if (!strcmp(method, "xz"))
		r = xz_stream(in, &s, &prog);
	else
		r = -ENOTSUP;
	mk_progress_end(&prog);
	if (r == 0 && fsync(s.fd) < 0)
		r = -errno;
	close(s.fd);
	md_hex(s.md, res->sha256);
	EVP_MD_CTX_free(s.md);
	if (r == 0 && rename(tmp, dest) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(err, errlen, "cannot write '%s' (%s): %s", dest, method, mk_strerror(r));
		if (r == -ENOSPC || r == -EDQUOT)
			res->need = estimate_need(in, st.st_size, s.size);
		unlink(tmp);
		mk_temp_forget(tmp);
		return r;
	}
	mk_temp_forget(tmp);
	res->path = xstrdup(dest);
	res->size = s.size;
	return 0;
}

int output_write_json(const char *dest, json_t *manifest, struct output_file *res, char *err,
		      size_t errlen)
{
	_cleanup_free_ char *text = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	int r = mk_write_file_atomic(dest, text, len, 0644);
	if (r < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", dest, strerror(-r));
		return r;
	}
	mk_sha256_hex(text, len, res->sha256);
	res->size = len;
	res->path = xstrdup(dest);
	return 0;
}

char *output_name(const char *target, const char *version, const char *arch, const char *tail)
{
	return xasprintf("mkmesh-%s-%s-%s%s", target, version, arch, tail);
}

static const char *basename_of(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int output_update_sums(const char *dir, const struct output_file *files, size_t n, char *err,
		       size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("%s/SHA256SUMS", dir);
	_cleanup_free_ char *old = NULL;
	struct strv lines = {0};
	size_t oldlen = 0;

	if (mk_read_file(path, &old, &oldlen) == 0) {
		char *save = NULL;
		/* the lines after a NUL byte would be dropped unseen */
		if (strlen(old) != oldlen) {
			snprintf(err, errlen,
				 "'%s' is not text (it holds a NUL byte); fix it or move the file away, then "
				 "build again",
				 path);
			return -EINVAL;
		}
		unsigned lineno = 0;
		for (char *l = strtok_r(old, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			lineno++;
			/* "<hash>  <name>": keep the lines of other files; a line
			 * of another shape is not ours to drop or to rewrite. */
			const char *name = l + 66;
			if (strlen(l) <= 66 || strspn(l, "0123456789abcdef") != 64 || l[64] != ' ' ||
			    l[65] != ' ' || grammar_file_name(name)) {
				snprintf(err, errlen,
					 "'%s' line %u is not '<sha256>  <file name>'; fix it or move the file "
					 "away, then build again",
					 path, lineno);
				strv_release(&lines);
				return -EINVAL;
			}
			bool ours = false;
			for (size_t i = 0; i < n; i++)
				if (!strcmp(name, basename_of(files[i].path)))
					ours = true;
			if (!ours)
				strv_push(&lines, l);
		}
	}
	for (size_t i = 0; i < n; i++)
		strv_push_take(&lines, xasprintf("%s  %s", files[i].sha256, basename_of(files[i].path)));
	/* Sorted by file name, as sha256sum users expect a stable file. */
	for (size_t i = 1; i < lines.n; i++)
		for (size_t j = i; j > 0 && strcmp(lines.v[j - 1] + 66, lines.v[j] + 66) > 0; j--) {
			char *t = lines.v[j];
			lines.v[j] = lines.v[j - 1];
			lines.v[j - 1] = t;
		}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (size_t i = 0; i < lines.n; i++)
		fprintf(f, "%s\n", lines.v[i]);
	fclose(f);
	int r = mk_write_file_atomic(path, text, len, 0644);
	free(text);
	strv_release(&lines);
	if (r < 0)
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(-r));
	return r;
}
