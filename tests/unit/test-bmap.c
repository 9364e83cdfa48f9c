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

/* --- a block map from outside is checked before anything is written --- */

#define CK "b15056c9a8db77ab5708d19b7f330fe13d88eeae3d0ab271081d3438c0f46264"
#define RANGE(body) "<Range chksum=\"" CK "\">" body "</Range>"

static char *map(const char *image_size, const char *block_size, const char *count, const char *ranges)
{
	return xasprintf("<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n"
			 "<ImageSize> %s </ImageSize>\n<BlockSize> %s </BlockSize>\n"
			 "<BlocksCount> %s </BlocksCount>\n<ChecksumType> sha256 </ChecksumType>\n"
			 "<BlockMap>\n%s\n</BlockMap>\n</bmap>\n",
			 image_size, block_size, count, ranges);
}

/* REFUSED: bmap_parse fails and its message holds WANT. */
#define ASSERT_REFUSED(text, want)                                                         \
	do {                                                                               \
		_cleanup_free_ char *_t = (text);                                          \
		struct bmap _b;                                                            \
		char _err[512] = "";                                                       \
		int _rc = bmap_parse(_t, strlen(_t), &_b, _err, sizeof(_err));             \
		if (_rc >= 0) {                                                            \
			bmap_release(&_b);                                                 \
			FAIL_AT("accepted: %s", _t);                                       \
		}                                                                          \
		if (!strstr(_err, (want)))                                                 \
			FAIL_AT("refused with \"%s\", expected \"%s\"", _err, (want));    \
	} while (0)

TEST(a_good_map_is_accepted)
{
	_cleanup_free_ char *text = map("8192", "4096", "2", RANGE(" 0-1 "));
	struct bmap b;
	char err[256] = "";
	int rc = bmap_parse(text, strlen(text), &b, err, sizeof(err));
	if (rc < 0)
		FAIL_AT("bmap_parse: %s", err);
	ASSERT_EQ(b.block_size, 4096);
	ASSERT_EQ(b.n_ranges, 1);
	ASSERT_EQ(b.ranges[0].last, 1);
	ASSERT_EQ(b.mapped_count, 2);
	ASSERT_STREQ(b.ranges[0].sha256, CK);
	bmap_release(&b);

	/* sectors of 512 bytes, a short last block, an upper-case sha256 */
	_cleanup_free_ char *small = map("1000", "512", "2",
		"<Range chksum=\"B15056C9A8DB77AB5708D19B7F330FE13D88EEAE3D0AB271081D3438C0F46264\"> 1 </Range>");
	rc = bmap_parse(small, strlen(small), &b, err, sizeof(err));
	if (rc < 0)
		FAIL_AT("bmap_parse: %s", err);
	ASSERT_EQ(b.block_size, 512);
	ASSERT_EQ(bmap_mapped_bytes(&b), 1000 - 512);
	ASSERT_STREQ(b.ranges[0].sha256, CK);
	bmap_release(&b);
}

TEST(block_size_is_checked)
{
	/* 256 used to pass, and the card write failed at byte 256 as a "worn card" */
	ASSERT_REFUSED(map("8192", "256", "32", RANGE("1")), "<BlockSize> 256 is not a power of two from 512");
	ASSERT_REFUSED(map("8192", "0", "0", RANGE("0")), "<BlockSize> 0 is not a power of two");
	ASSERT_REFUSED(map("8000", "4000", "2", RANGE("0")), "<BlockSize> 4000 is not a power of two");
	ASSERT_REFUSED(map("8192", "1073741824", "1", RANGE("0")), "<BlockSize> 1073741824 is not a power");
	ASSERT_REFUSED(map("8192", "2097152", "1", RANGE("0")), "from 512 to 1048576");
	ASSERT_REFUSED(map("8192", "18446744073709551616", "1", RANGE("0")), "<BlockSize> is not a number");
	ASSERT_REFUSED(map("8192", "-4096", "2", RANGE("0")), "<BlockSize> is not a number");
	ASSERT_REFUSED(map("8192", "+4096", "2", RANGE("0")), "<BlockSize> is not a number");
	ASSERT_REFUSED(map("8192", "4096 4096", "2", RANGE("0")), "<BlockSize> is not a number");
	ASSERT_REFUSED(map("8192", "", "2", RANGE("0")), "<BlockSize> is not a number");
}

TEST(image_size_and_block_count_are_checked)
{
	/* "-1" was read as 2^64-1 and the block count wrapped around */
	ASSERT_REFUSED(map("-1", "4096", "0", RANGE("0")), "<ImageSize> is not a number");
	ASSERT_REFUSED(map("18446744073709551615", "4096", "4503599627370496", RANGE("0")),
		       "<ImageSize> 18446744073709551615 is not from 1 byte to 1 PiB");
	ASSERT_REFUSED(map("0", "4096", "0", ""), "<ImageSize> 0 is not");
	ASSERT_REFUSED(map("8192", "4096", "3", RANGE("0")), "<BlocksCount> 3 does not fit <ImageSize> 8192");
	ASSERT_REFUSED(map("8193", "4096", "2", RANGE("0")), "(that is 3 blocks)");
}

TEST(ranges_must_be_ordered_and_inside_the_image)
{
	const char *outside = "is not an ascending range of blocks inside the image";
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("2")), outside);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("1-5")), outside);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("1-0")), outside);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("1") RANGE("0")), "range 2 (0-0) is not an ascending");
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0-1") RANGE("1")), "range 2 (1-1)");
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0") RANGE("0")), "range 2 (0-0)");
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("18446744073709551615")), outside);
	const char *shape = "is not 'FIRST' or 'FIRST-LAST'";
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("-1")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0-")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0-1-1")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0x1")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("18446744073709551616")), shape);
	ASSERT_REFUSED(map("8192", "4096", "2", ""), "it lists no blocks");
}

TEST(every_range_needs_a_sha256)
{
	/* a map without checksums was written and reported "checked against the
	 * block map's sha256" */
	ASSERT_REFUSED(map("8192", "4096", "2", "<Range> 0-1 </Range>"), "range 1 has no sha256");
	ASSERT_REFUSED(map("8192", "4096", "2", RANGE("0") "<Range> 1 </Range>"), "range 2 has no sha256");
	ASSERT_REFUSED(map("8192", "4096", "2", "<Range chksum=\"abc\"> 0 </Range>"), "chksum is not a sha256");
	ASSERT_REFUSED(map("8192", "4096", "2",
			   "<Range chksum=\"z15056c9a8db77ab5708d19b7f330fe13d88eeae3d0ab271081d3438c0f46264\"> 0 </Range>"),
		       "chksum is not a sha256");
	/* format 1.x with sha1 (bmaptool before 3.x) */
	ASSERT_REFUSED(xstrdup("<bmap version=\"1.3\"><ImageSize> 8192 </ImageSize><BlockSize> 4096 </BlockSize>"
			       "<BlocksCount> 2 </BlocksCount><BlockMap><Range chksum=\"da39a3ee5e6b4b0d3255bfef95601890afd80709\">"
			       " 0 </Range></BlockMap></bmap>"),
		       "chksum is not a sha256");
	ASSERT_REFUSED(xstrdup("<bmap version=\"1.4\"><ImageSize> 8192 </ImageSize><BlockSize> 4096 </BlockSize>"
			       "<BlocksCount> 2 </BlocksCount><ChecksumType> sha1 </ChecksumType></bmap>"),
		       "<ChecksumType> is not sha256");
}

TEST(mapped_count_must_match)
{
	_cleanup_free_ char *ranges = xstrdup(RANGE("0"));
	_cleanup_free_ char *t = map("8192", "4096", "2", ranges);
	char *at = strstr(t, "<ChecksumType>");
	_cleanup_free_ char *zero = xasprintf("%.*s<MappedBlocksCount> 0 </MappedBlocksCount>%s", (int)(at - t), t, at);
	ASSERT_REFUSED(xstrdup(zero), "<MappedBlocksCount> 0 but the ranges hold 1 blocks");
}
