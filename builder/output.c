/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "output.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/stat.h>
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

static int gzip_stream(int in, struct sink *s, uint64_t total, struct mk_progress *prog)
{
	z_stream z = {0};
	_cleanup_free_ unsigned char *ibuf = xmalloc(CHUNK), *obuf = xmalloc(CHUNK);
	uint64_t done = 0;
	int r = 0, flush;

	/* 31: a gzip wrapper; zlib's header has mtime 0, so output is stable. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	do {
		ssize_t n = read(in, ibuf, CHUNK);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		done += (uint64_t)n;
		mk_progress_update(prog, done);
		flush = (n == 0 || done >= total) ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = ibuf;
		z.avail_in = (uInt)n;
		do {
			z.next_out = obuf;
			z.avail_out = CHUNK;
			deflate(&z, flush);
			if ((r = sink_write(s, obuf, CHUNK - z.avail_out)) < 0)
				break;
		} while (z.avail_out == 0);
		if (mk_interrupted)
			r = -MK_ERR_INTERRUPTED;
	} while (r == 0 && flush != Z_FINISH);
	deflateEnd(&z);
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

static void md_hex(EVP_MD_CTX *md, char out[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	static const char digits[] = "0123456789abcdef";
	EVP_DigestFinal_ex(md, d, &n);
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}

int output_compress(const char *raw, const char *dest, const char *method, struct output_file *res,
		    char *err, size_t errlen)
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
		r = gzip_stream(in, &s, (uint64_t)st.st_size, &prog);
	else if (!strcmp(method, "zstd"))
		r = zstd_stream(in, &s, (uint64_t)st.st_size, &prog);
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

	if (mk_read_file(path, &old, NULL) == 0) {
		char *save = NULL;
		for (char *l = strtok_r(old, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
			/* "<hash>  <name>": keep the lines of other files. */
			const char *name = strlen(l) > 66 ? l + 66 : "";
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
