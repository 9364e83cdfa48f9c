/* SPDX-License-Identifier: GPL-3.0-or-later */
/* bmap: ranges from a sparse file, the XML byte for byte as bmaptool create
 * writes it (golden files made by bmap-tools 3.6), parsing and damage. */
#include <fcntl.h>
#include <sys/stat.h>

#include "bmap.h"
#include "tests.h"
#include "util.h"

static char *tmpfile_path(void)
{
	char *p = xstrdup("/tmp/mkmesh-test-bmap.XXXXXX");
	int fd = mkstemp(p);
	if (fd >= 0)
		close(fd);
	return p;
}

static void put(int fd, const char *s, off_t at)
{
	if (pwrite(fd, s, strlen(s), at) != (ssize_t)strlen(s))
		abort();
}

/* The same files as tests/golden/bmap-*.bmap were made from. */
static char *make_small(void)
{
	char *p = tmpfile_path();
	int fd = open(p, O_WRONLY | O_TRUNC);
	if (ftruncate(fd, 1 << 20) < 0)
		abort();
	put(fd, "hello", 3 * 4096);
	put(fd, "x", 10 * 4096);
	put(fd, "y", 11 * 4096);
	close(fd);
	return p;
}

static char *make_tail(void)
{
	char *p = tmpfile_path();
	int fd = open(p, O_WRONLY | O_TRUNC);
	if (ftruncate(fd, (1 << 20) + 100) < 0)
		abort();
	put(fd, "end", 1048600);
	put(fd, "start", 0);
	close(fd);
	return p;
}

static char *golden(const char *name)
{
	char *text = NULL;
	_cleanup_free_ char *p = xasprintf("tests/golden/%s", name);
	if (mk_read_file(p, &text, NULL) < 0)
		return NULL;
	return text;
}

TEST(ranges_of_a_sparse_file)
{
	_cleanup_free_ char *p = make_small();
	struct bmap b;
	char err[256];
	ASSERT_EQ(bmap_from_file(p, &b, err, sizeof(err)), 0);
	unlink(p);
	ASSERT_EQ(b.block_size, 4096);
	ASSERT_EQ(b.image_size, 1 << 20);
	ASSERT_EQ(b.blocks_count, 256);
	ASSERT_EQ(b.n_ranges, 2);
	ASSERT_EQ(b.ranges[0].first, 3);
	ASSERT_EQ(b.ranges[0].last, 3);
	ASSERT_EQ(b.ranges[1].first, 10);
	ASSERT_EQ(b.ranges[1].last, 11);
	ASSERT_EQ(b.mapped_count, 3);
	ASSERT_EQ(bmap_mapped_bytes(&b), 3 * 4096);
	bmap_release(&b);
}

TEST(same_bytes_as_bmaptool_create)
{
	_cleanup_free_ char *want = golden("bmap-small.bmap");
	_cleanup_free_ char *p = make_small();
	struct bmap b;
	char err[256];
	ASSERT_TRUE(want != NULL);
	ASSERT_EQ(bmap_from_file(p, &b, err, sizeof(err)), 0);
	unlink(p);
	_cleanup_free_ char *got = bmap_format(&b);
	bmap_release(&b);
	ASSERT_STREQ(got, want);
}

TEST(short_last_block_as_bmaptool)
{
	_cleanup_free_ char *want = golden("bmap-tail.bmap");
	_cleanup_free_ char *p = make_tail();
	struct bmap b;
	char err[256];
	ASSERT_TRUE(want != NULL);
	ASSERT_EQ(bmap_from_file(p, &b, err, sizeof(err)), 0);
	unlink(p);
	ASSERT_EQ(b.blocks_count, 257);
	ASSERT_EQ(bmap_mapped_bytes(&b), 4096 + 100);
	_cleanup_free_ char *got = bmap_format(&b);
	bmap_release(&b);
	ASSERT_STREQ(got, want);
}

TEST(a_punched_hole_is_not_mapped)
{
	_cleanup_free_ char *p = tmpfile_path();
	int fd = open(p, O_RDWR | O_TRUNC);
	char block[4096 * 4];
	memset(block, 'a', sizeof(block));
	ASSERT_EQ(pwrite(fd, block, sizeof(block), 0), (ssize_t)sizeof(block));
	/* what fstrim through a discarding virtio disk does to the raw file */
	ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 4096, 8192), 0);
	close(fd);
	struct bmap b;
	char err[256];
	ASSERT_EQ(bmap_from_file(p, &b, err, sizeof(err)), 0);
	unlink(p);
	ASSERT_EQ(b.n_ranges, 2);
	ASSERT_EQ(b.ranges[0].last, 0);
	ASSERT_EQ(b.ranges[1].first, 3);
	bmap_release(&b);
}

TEST(parse_round_trip)
{
	_cleanup_free_ char *text = golden("bmap-small.bmap");
	struct bmap b;
	char err[256] = "";
	ASSERT_TRUE(text != NULL);
	int rc = bmap_parse(text, strlen(text), &b, err, sizeof(err));
	if (rc < 0)
		FAIL_AT("bmap_parse: %s", err);
	ASSERT_EQ(b.image_size, 1 << 20);
	ASSERT_EQ(b.n_ranges, 2);
	ASSERT_EQ(b.ranges[1].first, 10);
	ASSERT_EQ(b.ranges[1].last, 11);
	ASSERT_STREQ(b.ranges[0].sha256, "b15056c9a8db77ab5708d19b7f330fe13d88eeae3d0ab271081d3438c0f46264");
	_cleanup_free_ char *again = bmap_format(&b);
	bmap_release(&b);
	ASSERT_STREQ(again, text);
}

TEST(damaged_file_is_refused)
{
	_cleanup_free_ char *text = golden("bmap-small.bmap");
	struct bmap b;
	char err[256] = "";
	ASSERT_TRUE(text != NULL);
	char *r = strstr(text, "> 10-11 <");
	ASSERT_TRUE(r != NULL);
	r[3] = '2'; /* 10-11 -> 10-21 */
	ASSERT_EQ(bmap_parse(text, strlen(text), &b, err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "damaged") != NULL);
}

TEST(bad_ranges_are_refused)
{
	static const char *const bad[] = {
		"<bmap version=\"2.0\"><ImageSize> 8192 </ImageSize><BlockSize> 4096 </BlockSize>"
		"<BlocksCount> 2 </BlocksCount><ChecksumType> sha256 </ChecksumType>"
		"<BlockMap><Range> 1-5 </Range></BlockMap></bmap>",
		"<bmap version=\"2.0\"><ImageSize> 8192 </ImageSize><BlockSize> 4096 </BlockSize>"
		"<BlocksCount> 2 </BlocksCount><ChecksumType> sha256 </ChecksumType>"
		"<BlockMap><Range> 1 </Range><Range> 0 </Range></BlockMap></bmap>",
		"<bmap version=\"2.0\"><ImageSize> 8192 </ImageSize><BlockSize> 4000 </BlockSize>"
		"<BlocksCount> 3 </BlocksCount><ChecksumType> sha256 </ChecksumType></bmap>",
		"<bmap version=\"3.0\"></bmap>",
		"<html></html>",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		struct bmap b;
		char err[256] = "";
		if (bmap_parse(bad[i], strlen(bad[i]), &b, err, sizeof(err)) >= 0)
			FAIL_AT("bad bmap %zu was accepted", i);
		ASSERT_TRUE(err[0] != '\0');
	}
}
