/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fat_normalize on a real FAT32 made by mkfs.fat and filled by mtools. mtools
 * -m gives creation = write time, so the test stamps creation and access the
 * way Linux's vfat does (the clock at creation) before normalizing. */
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../builder/fat.h"
#include "../../builder/util.h"
#include "tests.h"

static char dir[] = "/tmp/mkmesh-test-fat.XXXXXX";
static char img[64];

static int sh(const char *cmd)
{
	_cleanup_free_ char *c = xasprintf("cd %s && (%s) >/dev/null 2>&1", dir, cmd);
	return system(c);
}

/* The disk: an MBR with partition 1 at 1 MiB, FAT32 there, a file in the
 * root, a subdirectory with a long-named file. Returns 0 when made. */
static int make_disk(void)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	return sh("truncate -s 80M disk.img && "
		  "printf 'label: dos\\n2048,,c\\n' | sfdisk -q disk.img && "
		  "mkfs.fat -F 32 --offset 2048 -n FW disk.img && "
		  "echo hello >a.txt && touch -d 2001-02-03T04:05:06 a.txt && "
		  "mcopy -m -i disk.img@@1M a.txt ::/A.TXT && mmd -i disk.img@@1M ::/sub && "
		  "mcopy -m -i disk.img@@1M a.txt ::/sub/a-long-file-name.txt");
}

/* Gives the live short entries of the directory cluster at BYTE another
 * creation time and access date (2026-11-26 10:20:30.5), and "." and ".."
 * that write time too (the kernel's clock at mkdir; tar sets only the
 * directory's entry in its parent). */
static void stamp_entries(int fd, off_t byte)
{
	unsigned char e[32];
	static const unsigned char clock[7] = {50, 0x8f, 0x52, 0x7a, 0x5d, 0x7a, 0x5d};
	for (int i = 0; i < 128 && pread(fd, e, 32, byte + i * 32) == 32 && e[0]; i++) {
		if (e[0] == 0xe5 || e[11] == 0x0f)
			continue;
		if (pwrite(fd, clock, 7, byte + i * 32 + 13) != 7 ||
		    (e[0] == '.' && pwrite(fd, clock + 1, 4, byte + i * 32 + 22) != 4))
			abort();
	}
}

/* Counts live short entries of the directory cluster at BYTE whose creation
 * time or access date differ from their write time; *live gets how many. */
static int stale_entries(int fd, off_t byte, int *live, uint32_t *subdir)
{
	unsigned char e[32];
	int stale = 0;
	*live = 0;
	for (int i = 0; i < 128 && pread(fd, e, 32, byte + i * 32) == 32 && e[0]; i++) {
		if (e[0] == 0xe5 || e[11] == 0x0f)
			continue;
		(*live)++;
		unsigned char want[7] = {0, e[22], e[23], e[24], e[25], e[24], e[25]};
		if (memcmp(e + 13, want, 7) != 0)
			stale++;
		if (subdir && (e[11] & 0x10) && e[0] != '.')
			*subdir = (uint32_t)(e[20] | e[21] << 8) << 16 | (uint32_t)(e[26] | e[27] << 8);
	}
	return stale;
}

TEST(fat_normalize_sets_creation_and_access_from_write_time)
{
	if (system("command -v mkfs.fat >/dev/null && command -v mcopy >/dev/null && "
		   "command -v sfdisk >/dev/null") != 0)
		SKIP("mkfs.fat, mtools or sfdisk is missing ('scripts/deps.sh --tests' installs them)");
	ASSERT_EQ(make_disk(), 0);
	int fd = open(img, O_RDWR);
	ASSERT_TRUE(fd >= 0);
	unsigned char bs[512];
	ASSERT_EQ(pread(fd, bs, 512, 1 << 20), 512);
	uint32_t bps = bs[11] | bs[12] << 8, spc = bs[13], reserved = bs[14] | bs[15] << 8;
	uint32_t fatsz = bs[36] | bs[37] << 8 | bs[38] << 16 | (uint32_t)bs[39] << 24;
	off_t data = (1 << 20) + (off_t)(reserved + bs[16] * fatsz) * bps;
	uint32_t root = bs[44], sub = 0;
	int live, live_sub;

	/* the kernel's stamp, while the write time is 2001's (or mkfs's) */
	ASSERT_EQ(stale_entries(fd, data + (off_t)(root - 2) * bps * spc, &live, &sub), 0);
	ASSERT_TRUE(sub >= 2);
	stamp_entries(fd, data + (off_t)(root - 2) * bps * spc);
	stamp_entries(fd, data + (off_t)(sub - 2) * bps * spc);
	int before = stale_entries(fd, data + (off_t)(root - 2) * bps * spc, &live, NULL);
	int before_sub = stale_entries(fd, data + (off_t)(sub - 2) * bps * spc, &live_sub, NULL);
	ASSERT_TRUE(before >= 2);     /* A.TXT, SUB */
	ASSERT_TRUE(before_sub >= 3); /* ., .., the long-named file */

	char err[256] = "";
	ASSERT_EQ(fat_normalize(img, 1, err, sizeof(err)), 0);
	ASSERT_EQ(stale_entries(fd, data + (off_t)(root - 2) * bps * spc, &live, NULL), 0);
	ASSERT_EQ(stale_entries(fd, data + (off_t)(sub - 2) * bps * spc, &live_sub, NULL), 0);
	ASSERT_TRUE(live >= 3); /* the label, A.TXT, SUB */
	/* "." and ".." of sub carry sub's own write time (from its entry) */
	unsigned char dot[32], dotdot[32], self[32];
	ASSERT_EQ(pread(fd, dot, 32, data + (off_t)(sub - 2) * bps * spc), 32);
	ASSERT_EQ(pread(fd, dotdot, 32, data + (off_t)(sub - 2) * bps * spc + 32), 32);
	for (int i = 0; i < 16; i++) {
		ASSERT_EQ(pread(fd, self, 32, data + (off_t)(root - 2) * bps * spc + i * 32), 32);
		if (!memcmp(self, "SUB        ", 11))
			break;
	}
	ASSERT_TRUE(!memcmp(self, "SUB        ", 11));
	ASSERT_TRUE(!memcmp(dot + 13, self + 13, 13) && !memcmp(dotdot + 13, self + 13, 13));
	close(fd);

	/* still a good file system, same contents, same write time */
	ASSERT_EQ(sh("mcopy -n -i disk.img@@1M ::/sub/a-long-file-name.txt b.txt && cmp a.txt b.txt && "
		     "mdir -i disk.img@@1M ::/A.TXT | grep -q '2001-02-03'"), 0);
	ASSERT_EQ(sh("dd if=disk.img of=part.img bs=1M skip=1 status=none && fsck.fat -n part.img"), 0);

	/* a disk without that partition is refused with a message */
	ASSERT_TRUE(fat_normalize(img, 2, err, sizeof(err)) < 0);
	ASSERT_TRUE(strstr(err, "no partition 2") != NULL);
	_cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(rm), 0);
}
