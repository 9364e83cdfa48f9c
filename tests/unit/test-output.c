/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Output: the parallel gzip gives a stream that gunzip reads back exactly,
 * the same bytes every time; SHA256SUMS keeps other files' lines. */
#include <fcntl.h>
#include <sys/stat.h>
#include <zlib.h>

#include "output.h"
#include "tests.h"
#include "util.h"

static char dir[256];

/* 4 MiB of data, 8 MiB of zeros (a hole), 1 MiB + 17 bytes of data. */
static void make_disk(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	unsigned char *buf = xmalloc(4u << 20);
	uint32_t x = 1;
	for (size_t i = 0; i < (4u << 20); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)((x >> 16) & 0x3f); /* compressible, not trivial */
	}
	if (write(fd, buf, 4u << 20) < 0 || lseek(fd, 12u << 20, SEEK_SET) < 0 ||
	    write(fd, buf, (1u << 20) + 17) < 0)
		abort();
	close(fd);
	free(buf);
}

TEST(gzip_round_trip_and_stable)
{
	snprintf(dir, sizeof(dir), "/tmp/mkmesh-test-output-%d", (int)getpid());
	mk_rm_rf(dir);
	mk_mkdir_p(dir, 0755);
	char raw[512], gz[512], gz2[512], back[512], err[512];
	snprintf(raw, sizeof(raw), "%s/disk.raw", dir);
	snprintf(gz, sizeof(gz), "%s/disk.raw.gz", dir);
	snprintf(gz2, sizeof(gz2), "%s/again.raw.gz", dir);
	snprintf(back, sizeof(back), "%s/back.raw", dir);
	make_disk(raw);
	struct output_file f = {0}, f2 = {0};
	ASSERT_EQ(output_compress(raw, gz, "gzip", NULL, &f, err, sizeof(err)), 0);
	/* Through the chunk cache, cold and then warm: the same bytes. */
	char cache[512], gz3[512];
	struct output_file f3 = {0};
	snprintf(cache, sizeof(cache), "%s/chunks", dir);
	snprintf(gz3, sizeof(gz3), "%s/third.raw.gz", dir);
	mk_mkdir_p(cache, 0755);
	ASSERT_EQ(output_compress(raw, gz2, "gzip", cache, &f2, err, sizeof(err)), 0);
	ASSERT_STREQ(f.sha256, f2.sha256);
	ASSERT_EQ(output_compress(raw, gz3, "gzip", cache, &f3, err, sizeof(err)), 0);
	ASSERT_STREQ(f.sha256, f3.sha256);
	free(f3.path);

	/* zlib's own reader checks the CRC and length in the trailer. */
	gzFile in = gzopen(gz, "rb");
	int out = open(back, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	char buf[65536];
	int n;
	while ((n = gzread(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			abort();
	ASSERT_EQ(n, 0);
	ASSERT_EQ(gzclose(in), Z_OK);
	close(out);
	char h1[65], h2[65], h3[65];
	uint64_t size;
	mk_sha256_file(raw, h1, NULL);
	mk_sha256_file(back, h2, NULL);
	ASSERT_STREQ(h1, h2);
	mk_sha256_file(gz, h3, &size);
	ASSERT_STREQ(h3, f.sha256);
	ASSERT_EQ(size, f.size);
	/* and gzip(1) agrees */
	char cmd[1100];
	snprintf(cmd, sizeof(cmd), "gzip -t '%s'", gz);
	ASSERT_EQ(system(cmd), 0);
	free(f.path);
	free(f2.path);
}

TEST(sparse_copy_keeps_data_and_holes)
{
	char raw[512], copy[512], h1[65], h2[65];
	struct stat a, b;
	snprintf(raw, sizeof(raw), "%s/disk.raw", dir);
	snprintf(copy, sizeof(copy), "%s/copy.raw", dir);
	ASSERT_EQ(mk_copy_sparse(raw, copy), 0);
	mk_sha256_file(raw, h1, NULL);
	mk_sha256_file(copy, h2, NULL);
	ASSERT_STREQ(h1, h2);
	stat(raw, &a);
	stat(copy, &b);
	ASSERT_EQ(b.st_size, a.st_size);
	/* 13 MiB long, 5 MiB of data: the hole stays a hole. */
	ASSERT_TRUE(b.st_blocks * 512 < 8 * 1048576);
	unlink(copy);
}

TEST(zstd_round_trip)
{
	char raw[512], zst[512], cmd[1200], err[512];
	snprintf(raw, sizeof(raw), "%s/disk.raw", dir);
	snprintf(zst, sizeof(zst), "%s/disk.raw.zst", dir);
	struct output_file f = {0};
	ASSERT_EQ(output_compress(raw, zst, "zstd", NULL, &f, err, sizeof(err)), 0);
	snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s' | cmp -s - '%s'", zst, raw);
	ASSERT_EQ(system(cmd), 0);
	free(f.path);
}

TEST(sums_keep_other_lines)
{
	char err[512], *text = NULL, path[512];
	struct output_file a = {.path = (char *)"x/a.raw.gz", .sha256 = "1111111111111111111111111111111111111111111111111111111111111111"};
	struct output_file b = {.path = (char *)"x/b.json", .sha256 = "2222222222222222222222222222222222222222222222222222222222222222"};
	ASSERT_EQ(output_update_sums(dir, &b, 1, err, sizeof(err)), 0);
	ASSERT_EQ(output_update_sums(dir, &a, 1, err, sizeof(err)), 0);
	b.sha256[0] = '3';
	ASSERT_EQ(output_update_sums(dir, &b, 1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/SHA256SUMS", dir);
	ASSERT_EQ(mk_read_file(path, &text, NULL), 0);
	ASSERT_STREQ(text, "1111111111111111111111111111111111111111111111111111111111111111  a.raw.gz\n"
			   "3222222222222222222222222222222222222222222222222222222222222222  b.json\n");
	free(text);
	mk_rm_rf(dir);
}

/* An existing SHA256SUMS line of another shape (short: it was read past its
 * end once) stops the update, names the line, and leaves the file as it was. */
TEST(sums_refuse_a_foreign_line)
{
	char d[] = "/tmp/mkmesh-test-sums.XXXXXX", err[512], path[600], *text = NULL;
	ASSERT_TRUE(mkdtemp(d) != NULL);
	snprintf(path, sizeof(path), "%s/SHA256SUMS", d);
	static const char *const bad[] = {
		"abc\n",
		"1111111111111111111111111111111111111111111111111111111111111111  ok.json\nx\n",
		"1111111111111111111111111111111111111111111111111111111111111111  ../etc/passwd\n",
		"1111111111111111111111111111111111111111111111111111111111111111 *a b\n",
	};
	struct output_file a = {.path = (char *)"x/a.raw.gz", .sha256 = "1111111111111111111111111111111111111111111111111111111111111111"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ASSERT_EQ(mk_write_file_atomic(path, bad[i], strlen(bad[i]), 0644), 0);
		ASSERT_EQ(output_update_sums(d, &a, 1, err, sizeof(err)), -EINVAL);
		ASSERT_TRUE(strstr(err, i == 1 ? "line 2 is not" : "line 1 is not") != NULL);
		ASSERT_EQ(mk_read_file(path, &text, NULL), 0);
		ASSERT_STREQ(text, bad[i]);
		free(text);
	}
	mk_rm_rf(d);
}

/* Every file of an image is named from the parts: a version that holds
 * ".img" or ".raw" stays whole (the manifest's name was cut at the first
 * ".img" of the image's name, and that strstr was not checked). */
TEST(file_names_keep_a_version_with_img_or_raw_whole)
{
	static const struct {
		const char *target, *version, *arch, *tail, *want;
	} cases[] = {
		{"rpi", "1.img.2", "arm64", ".img.zst", "mkmesh-rpi-1.img.2-arm64.img.zst"},
		{"rpi", "1.img.2", "arm64", ".img.bmap", "mkmesh-rpi-1.img.2-arm64.img.bmap"},
		{"rpi", "1.img.2", "arm64", ".manifest.json", "mkmesh-rpi-1.img.2-arm64.manifest.json"},
		{"rpi", "1.img.2", "arm64", ".spdx.json", "mkmesh-rpi-1.img.2-arm64.spdx.json"},
		{"droplet", "x.raw", "amd64", ".raw.gz", "mkmesh-droplet-x.raw-amd64.raw.gz"},
		{"droplet", "x.raw", "amd64", ".manifest.json", "mkmesh-droplet-x.raw-amd64.manifest.json"},
		{"droplet", "img", "amd64", ".spdx.json", "mkmesh-droplet-img-amd64.spdx.json"},
		{"droplet", "0.4.1-3-gdeadbee", "amd64", ".manifest.json",
		 "mkmesh-droplet-0.4.1-3-gdeadbee-amd64.manifest.json"},
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *name =
			output_name(cases[i].target, cases[i].version, cases[i].arch, cases[i].tail);
		ASSERT_STREQ(name, cases[i].want);
	}
}
