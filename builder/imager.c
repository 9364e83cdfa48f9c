/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rpi-imager.json: what the image inside a .img.zst is, for its checks. */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "imager.h"
#include "util.h"

#define CHUNK (1u << 20)

int imager_zstd_digest(int fd, uint64_t max, char sha[65], uint64_t *size)
{
	ZSTD_DCtx *zd = ZSTD_createDCtx();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *in = xmalloc(CHUNK), *out = xmalloc(CHUNK);
	uint64_t total = 0;
	size_t zr = 1; /* 0 once a frame is complete */
	bool any = false;
	int r = 0;
	if (!zd || !ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		abort();
	for (;;) {
		ssize_t n = read(fd, in, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			goto out;
		}
		if (n == 0)
			break;
		any = true;
		ZSTD_inBuffer ib = {in, (size_t)n, 0};
		while (ib.pos < ib.size) {
			ZSTD_outBuffer ob = {out, CHUNK, 0};
			zr = ZSTD_decompressStream(zd, &ob, &ib);
			if (ZSTD_isError(zr)) {
				r = -MK_ERR_CHECKSUM;
				goto out;
			}
			if (ob.pos > max - total) {
				r = -EFBIG;
				goto out;
			}
			total += ob.pos;
			EVP_DigestUpdate(ctx, out, ob.pos);
		}
	}
	/* Flush what the decoder still holds for the last frame. */
	for (;;) {
		ZSTD_inBuffer ib = {in, 0, 0};
		ZSTD_outBuffer ob = {out, CHUNK, 0};
		if (zr == 0)
			break;
		zr = ZSTD_decompressStream(zd, &ob, &ib);
		if (ZSTD_isError(zr)) {
			r = -MK_ERR_CHECKSUM;
			goto out;
		}
		if (ob.pos > max - total) {
			r = -EFBIG;
			goto out;
		}
		total += ob.pos;
		EVP_DigestUpdate(ctx, out, ob.pos);
		if (ob.pos == 0 && zr != 0) {
			r = -EPIPE;
			goto out;
		}
	}
	if (!any) {
		r = -EPIPE;
		goto out;
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	mk_hex(md, mdlen, sha);
	*size = total;
out:
	EVP_MD_CTX_free(ctx);
	ZSTD_freeDCtx(zd);
	free(in);
	free(out);
	return r;
}

bool imager_date_valid(const char *s)
{
	static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	int y = atoi(s), m = atoi(s + 5), d = atoi(s + 8);
	if (m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}
