/* SPDX-License-Identifier: GPL-3.0-or-later */
/* rpi-imager.json's checks: the sha256 and size of the image inside a zstd
 * file (several frames, a cut or corrupt stream, a bound on the bytes
 * read), and Imager's release dates. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include "tests.h"
#include "imager.h"
#include "util.h"

/* A temporary file holding LEN bytes of DATA, opened for reading. */
static int tmpfd(const void *data, size_t len)
{
	char path[] = "/tmp/mkmesh-test-imager.XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		abort();
	unlink(path);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

#define RAW (3u << 20) /* more than one read chunk of the decoder */

static unsigned char *raw_data(void)
{
	unsigned char *raw = xcalloc(1, RAW);
	for (size_t i = 0; i < 70000; i++)
		raw[i] = (unsigned char)(i * 2654435761u >> 13);
	return raw;
}

TEST(zstd_digest)
{
	_cleanup_free_ unsigned char *raw = raw_data();
	size_t cap = ZSTD_compressBound(RAW) * 2;
	_cleanup_free_ unsigned char *z = xmalloc(cap);
	/* two frames, as a multi-threaded or concatenated compression makes */
	size_t a = ZSTD_compress(z, cap, raw, RAW / 2, 3);
	size_t b = ZSTD_compress(z + a, cap - a, raw + RAW / 2, RAW - RAW / 2, 3);
	ASSERT_TRUE(!ZSTD_isError(a) && !ZSTD_isError(b));
	char want[65], got[65];
	mk_sha256_hex(raw, RAW, want);
	uint64_t size = 0;

	int fd = tmpfd(z, a + b);
	ASSERT_EQ(imager_zstd_digest(fd, RAW, got, &size), 0);
	close(fd);
	ASSERT_STREQ(got, want);
	ASSERT_EQ(size, RAW);

	fd = tmpfd(z, a + b);
	ASSERT_EQ(imager_zstd_digest(fd, RAW - 1, got, &size), -EFBIG);
	close(fd);
	fd = tmpfd(z, a + b - 7);
	ASSERT_EQ(imager_zstd_digest(fd, RAW, got, &size), -EPIPE);
	close(fd);
	fd = tmpfd("", 0);
	ASSERT_EQ(imager_zstd_digest(fd, RAW, got, &size), -EPIPE);
	close(fd);
	fd = tmpfd(raw + 10, 4096); /* not zstd */
	ASSERT_EQ(imager_zstd_digest(fd, RAW, got, &size), -MK_ERR_CHECKSUM);
	close(fd);
	z[a + 40] ^= 0xff; /* inside the second frame */
	fd = tmpfd(z, a + b);
	int r = imager_zstd_digest(fd, RAW, got, &size);
	close(fd);
	ASSERT_TRUE(r == -MK_ERR_CHECKSUM || (r == 0 && strcmp(got, want)));
}

TEST(release_date)
{
	ASSERT_TRUE(imager_date_valid("2025-12-01"));
	ASSERT_TRUE(imager_date_valid("2024-02-29"));
	ASSERT_TRUE(imager_date_valid("2000-02-29"));
	ASSERT_TRUE(!imager_date_valid("1900-02-29"));
	ASSERT_TRUE(!imager_date_valid("2025-02-29"));
	ASSERT_TRUE(!imager_date_valid("2025-04-31"));
	ASSERT_TRUE(!imager_date_valid("2025-13-01"));
	ASSERT_TRUE(!imager_date_valid("2025-00-10"));
	ASSERT_TRUE(!imager_date_valid("2025-1-01"));
	ASSERT_TRUE(!imager_date_valid("2025/12/01"));
	ASSERT_TRUE(!imager_date_valid("2025-12-01T00:00:00Z"));
	ASSERT_TRUE(!imager_date_valid(""));
}
