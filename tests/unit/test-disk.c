/* SPDX-License-Identifier: GPL-3.0-or-later */
/* disk_remove_replaced on a real ext4 (mke2fs -d, no journal, in an MBR
 * partition as the cached disks are), with a tar made by tar: what the
 * tree replaces is gone, its inodes free and zeroed, the rest kept, and
 * e2fsck finds nothing to fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../builder/disk.h"
#include "../../builder/util.h"
#include "tests.h"

static char dir[] = "/tmp/mkmesh-test-disk.XXXXXX";

static int sh(const char *cmd)
{
	_cleanup_free_ char *c = xasprintf("cd %s && (%s) >/dev/null 2>&1", dir, cmd);
	return system(c);
}

/* The first line COMMAND prints (run in the test's directory), or "". */
static char *out(const char *cmd)
{
	_cleanup_free_ char *c = xasprintf("cd %s && (%s) 2>/dev/null", dir, cmd);
	_cleanup_pclose_ FILE *p = popen(c, "r");
	char line[256] = "";
	if (!p || !fgets(line, sizeof(line), p))
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

#define FS "disk.img?offset=1048576"

/* The first of the programs these tests run that is not on PATH, or NULL. */
static const char *missing_tool(void)
{
	static const char *const tools[] = {"mke2fs", "debugfs", "sfdisk", "e2fsck", "tune2fs", "dumpe2fs"};
	for (size_t i = 0; i < ELEMENTSOF(tools); i++) {
		_cleanup_free_ char *c = xasprintf("command -v %s >/dev/null 2>&1", tools[i]);
		if (system(c) != 0)
			return tools[i];
	}
	return NULL;
}

TEST(disk_remove_replaced_removes_what_the_tree_replaces)
{
	const char *gone = missing_tool();
	if (gone)
		SKIP("'%s' is missing ('scripts/deps.sh --tests' installs it)", gone);
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	/* the disk: a file, a symlink, two hard links, a directory, a file
	 * reached through a directory symlink (merged /usr), one to keep */
	ASSERT_EQ(sh("mkdir -p root/etc/dir root/usr/bin && echo old >root/etc/a && "
		     "ln -s a root/etc/link && echo h >root/etc/hard1 && ln root/etc/hard1 root/etc/hard2 && "
		     "echo keep >root/etc/keep && echo f >root/etc/dir/f && ln -s usr/bin root/bin && "
		     "echo tool >root/usr/bin/tool && "
		     "truncate -s 64M disk.img && printf 'label: dos\\n2048,,83\\n' | sfdisk -q disk.img && "
		     "mke2fs -q -F -t ext4 -O ^has_journal -E offset=1048576 -d root disk.img 60M"),
		  0);
	_cleanup_free_ char *ino_a = out("debugfs -R 'stat /etc/a' '" FS "' | sed -n 's/^Inode: \\([0-9]*\\).*/\\1/p'");
	ASSERT_TRUE(atoi(ino_a) > 0);
	/* the tree: replacements for a, link (now a file), hard1, bin/tool,
	 * the directory (kept: tar merges into it) and a new file */
	ASSERT_EQ(sh("mkdir -p new/etc/dir new/bin && echo new >new/etc/a && echo l >new/etc/link && "
		     "echo h2 >new/etc/hard1 && echo t >new/bin/tool && echo n >new/etc/missing && "
		     "tar -C new -cf tree.tar ./etc ./bin"),
		  0);

	char err[256] = "";
	_cleanup_free_ char *tree = xasprintf("%s/tree.tar", dir);
	_cleanup_free_ char *img = xasprintf("%s/disk.img", dir);
	ASSERT_EQ(disk_remove_replaced(img, 1, tree, err, sizeof(err)), 0);

	ASSERT_EQ(sh("e2fsck -fn '" FS "'"), 0);
	ASSERT_TRUE(sh("debugfs -R 'stat /etc/a' '" FS "' 2>&1 | grep -q 'File not found'") == 0);
	ASSERT_TRUE(sh("debugfs -R 'stat /etc/link' '" FS "' 2>&1 | grep -q 'File not found'") == 0);
	ASSERT_TRUE(sh("debugfs -R 'stat /etc/hard1' '" FS "' 2>&1 | grep -q 'File not found'") == 0);
	ASSERT_TRUE(sh("debugfs -R 'stat /usr/bin/tool' '" FS "' 2>&1 | grep -q 'File not found'") == 0);
	/* kept: the other link (now alone), the directory and its file */
	ASSERT_EQ(sh("debugfs -R 'stat /etc/hard2' '" FS "' | grep -q 'Links: 1 '"), 0);
	ASSERT_EQ(sh("debugfs -R 'cat /etc/keep' '" FS "' | grep -qx keep"), 0);
	ASSERT_EQ(sh("debugfs -R 'cat /etc/dir/f' '" FS "' | grep -qx f"), 0);
	ASSERT_EQ(sh("debugfs -R 'stat /bin' '" FS "' | grep -q 'Type: symlink'"), 0);
	/* a's inode is free and holds nothing (only its checksum), no
	 * deletion time either */
	_cleanup_free_ char *stat = xasprintf("debugfs -R 'stat <%s>' '" FS "' >stat.txt && "
					      "grep -q 'Mode:  0000' stat.txt && grep -q 'Links: 0 ' stat.txt && "
					      "! grep -q 'dtime' stat.txt && grep -q 'Size: 0$' stat.txt",
					      ino_a);
	ASSERT_EQ(sh(stat), 0);
	_cleanup_free_ char *bit = xasprintf("debugfs -R 'testi <%s>' '" FS "' | grep -q 'not in use'", ino_a);
	ASSERT_EQ(sh(bit), 0);

	/* the same tree again: nothing left to remove, still clean */
	ASSERT_EQ(disk_remove_replaced(img, 1, tree, err, sizeof(err)), 0);
	ASSERT_EQ(sh("e2fsck -fn '" FS "'"), 0);
	/* a disk without that partition is refused with a message */
	ASSERT_TRUE(disk_remove_replaced(img, 2, tree, err, sizeof(err)) < 0);
	ASSERT_TRUE(strstr(err, "no partition 2") != NULL);
	_cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(rm), 0);
}

/* The image's file system times are disk_normalize's T and nothing else:
 * mke2fs (in the appliance, with its own clock) is given no time, so the
 * creation time, the write and check times and the first inodes' times
 * that it wrote must all become T here. */
TEST(disk_normalize_sets_every_time_mke2fs_wrote)
{
	const char *gone = missing_tool();
	if (gone)
		SKIP("'%s' is missing ('scripts/deps.sh --tests' installs it)", gone);
	char tdir[] = "/tmp/mkmesh-test-disk.XXXXXX";
	ASSERT_TRUE(mkdtemp(tdir) != NULL);
	memcpy(dir, tdir, sizeof(dir));
	/* made now (the clock), as the appliance's mke2fs does */
	ASSERT_EQ(sh("truncate -s 64M disk.img && printf 'label: dos\\n2048,,83\\n' | sfdisk -q disk.img && "
		     "mke2fs -q -F -t ext4 -O ^has_journal -E offset=1048576 disk.img 60M"),
		  0);
	const char *uuid = "3f0e8d21-5a4b-4c6d-9e8f-0a1b2c3d4e5f";
	const time_t t = 1700000000; /* Tue Nov 14 22:13:20 2023 UTC */
	char err[256] = "";
	_cleanup_free_ char *img = xasprintf("%s/disk.img", dir);
	ASSERT_EQ(disk_normalize(img, 1, uuid, t, err, sizeof(err)), 0);

	ASSERT_EQ(sh("e2fsck -fn '" FS "'"), 0);
	_cleanup_free_ char *created = out("TZ=UTC dumpe2fs -h '" FS "' | sed -n 's/^Filesystem created: *//p'");
	ASSERT_STREQ(created, "Tue Nov 14 22:13:20 2023");
	_cleanup_free_ char *written = out("TZ=UTC dumpe2fs -h '" FS "' | sed -n 's/^Last write time: *//p'");
	ASSERT_STREQ(written, "Tue Nov 14 22:13:20 2023");
	_cleanup_free_ char *checked = out("TZ=UTC dumpe2fs -h '" FS "' | sed -n 's/^Last checked: *//p'");
	ASSERT_STREQ(checked, "Tue Nov 14 22:13:20 2023");
	_cleanup_free_ char *fs_uuid = out("dumpe2fs -h '" FS "' | sed -n 's/^Filesystem UUID: *//p'");
	ASSERT_STREQ(fs_uuid, uuid);
	/* the root directory and lost+found, which mke2fs made */
	_cleanup_free_ char *root = out("debugfs -R 'stat /' '" FS "' | grep -c '0x6553f100:00000000'");
	ASSERT_STREQ(root, "4"); /* ctime, atime, mtime, crtime */
	_cleanup_free_ char *lf = out("debugfs -R 'stat /lost+found' '" FS "' | grep -c '0x6553f100:00000000'");
	ASSERT_STREQ(lf, "4");
	_cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(rm), 0);
}
