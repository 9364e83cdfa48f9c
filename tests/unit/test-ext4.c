/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ext4_write_tree on a fixture tar made here with libarchive's writer (one
 * of each kind of entry), read back with libext2fs and checked with e2fsck
 * and debugfs. */
#include <archive.h>
#include <archive_entry.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../builder/ext4.h"
#include "../../builder/util.h"
#include "tests.h"

static char dir[] = "/tmp/mkmesh-test-ext4.XXXXXX";
#define T0 1700000000
#define MiB (1024 * 1024)
#define UUID "0b6e7a53-3c56-4e4b-9d7c-3a5e1f0b2a11"
#define SEED "5d1c2f3e-4a5b-4c6d-8e7f-8091a2b3c4d5"

/* A VFS capability v2 (cap_net_raw=ep), as setcap writes it. */
static const unsigned char cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00,
				      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x00, 0x00};
static char slow_target[201];

__attribute__((constructor(200))) static void need_tools(void)
{
	if (system("command -v e2fsck >/dev/null && command -v debugfs >/dev/null") != 0 &&
	    system("test -x /usr/sbin/e2fsck && test -x /usr/sbin/debugfs") != 0) {
		printf("skip: e2fsck and debugfs (e2fsprogs) are needed\n");
		exit(77);
	}
	setenv("PATH", "/usr/sbin:/sbin:/usr/bin:/bin", 1);
	if (!mkdtemp(dir))
		abort();
	memset(slow_target, 's', 200);
	memcpy(slow_target, "../", 3);
}

__attribute__((destructor)) static void cleanup(void)
{
	mk_rm_rf(dir);
}

static void add(struct archive *a, const char *path, unsigned mode, int uid, int gid, time_t mtime,
		const void *data, size_t len)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_mtime(e, mtime, 0);
	if ((mode & AE_IFMT) == AE_IFREG)
		archive_entry_set_size(e, (la_int64_t)len);
	if (!strcmp(path, "usr/bin/ping"))
		archive_entry_xattr_add_entry(e, "security.capability", cap, sizeof(cap));
	if (!strcmp(path, "etc/hello"))
		archive_entry_xattr_add_entry(e, "user.comment", "a greeting", 10);
	if (archive_write_header(a, e) != ARCHIVE_OK)
		abort();
	if (len && archive_write_data(a, data, len) != (la_ssize_t)len)
		abort();
	archive_entry_free(e);
}

static void add_special(struct archive *a, const char *path, unsigned mode, int ma, int mi,
			const char *symlink, const char *hardlink)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, mode);
	archive_entry_set_mtime(e, T0, 0);
	archive_entry_set_rdevmajor(e, ma);
	archive_entry_set_rdevminor(e, mi);
	if (symlink)
		archive_entry_set_symlink(e, symlink);
	if (hardlink) {
		archive_entry_set_hardlink(e, hardlink);
		archive_entry_set_size(e, 0);
	}
	if (archive_write_header(a, e) != ARCHIVE_OK)
		abort();
	archive_entry_free(e);
}

/* The fixture: every kind of entry, as compose writes them (pax). */
static char *make_fixture(bool huge)
{
	char *tar = xasprintf("%s/%s.tar", dir, huge ? "huge" : "tree");
	struct archive *a = archive_write_new();
	archive_write_set_format_pax(a);
	if (archive_write_open_filename(a, tar) != ARCHIVE_OK)
		abort();
	char *buf = xcalloc(1, 4 * MiB);
	add(a, "./", AE_IFDIR | 0755, 0, 0, T0, NULL, 0);
	add(a, "etc/", AE_IFDIR | 0755, 0, 0, T0, NULL, 0);
	add(a, "etc/hello", AE_IFREG | 0640, 1000, 1001, T0 + 1, "hello\n", 6);
	add(a, "etc/empty", AE_IFREG | 0644, 0, 0, T0, NULL, 0);
	add(a, "var/", AE_IFDIR | 0755, 0, 0, T0, NULL, 0);
	memset(buf, 'a', MiB);
	memset(buf + 3 * MiB, 'b', MiB); /* 2 MiB of zeros between */
	add(a, "var/sparse", AE_IFREG | 0644, 0, 0, T0, buf, 4 * MiB);
	for (int i = 0; i < MiB; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	add(a, "var/big", AE_IFREG | 0600, 0, 0, T0, buf, MiB);
	add(a, "private/", AE_IFDIR | 0700, 0, 0, T0, NULL, 0);
	add(a, "many/", AE_IFDIR | 0755, 0, 0, T0, NULL, 0);
	for (int i = 0; i < 500; i++) {
		char p[64];
		snprintf(p, sizeof(p), "many/a-rather-long-file-name-number-%03d", i);
		add(a, p, AE_IFREG | 0644, 0, 0, T0, p, strlen(p));
	}
	add(a, "usr/bin/", AE_IFDIR | 0755, 0, 0, T0, NULL, 0); /* usr/ implicit */
	add(a, "usr/bin/ping", AE_IFREG | 04755, 0, 0, T0 - 100, "\177ELF", 4);
	add_special(a, "link-fast", AE_IFLNK | 0777, 0, 0, "etc/hello", NULL);
	add_special(a, "link-slow", AE_IFLNK | 0777, 0, 0, slow_target, NULL);
	add_special(a, "etc/hard", AE_IFREG | 0640, 0, 0, NULL, "etc/hello");
	add(a, "dev/", AE_IFDIR | 0755, 0, 0, T0, NULL, 0);
	add_special(a, "dev/null", AE_IFCHR | 0666, 1, 3, NULL, NULL);
	add_special(a, "dev/sda", AE_IFBLK | 0660, 8, 0, NULL, NULL);
	add_special(a, "dev/wide", AE_IFCHR | 0600, 300, 70000, NULL, NULL);
	add_special(a, "dev/fifo", AE_IFIFO | 0600, 0, 0, NULL, NULL);
	add(a, "grüße-файл", AE_IFREG | 0644, 0, 0, T0, "utf-8\n", 6);
	if (huge) {
		memset(buf, 'x', 4 * MiB);
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, "var/huge");
		archive_entry_set_mode(e, AE_IFREG | 0644);
		archive_entry_set_size(e, 32 * MiB);
		archive_write_header(a, e);
		for (int i = 0; i < 8; i++)
			archive_write_data(a, buf, 4 * MiB);
		archive_entry_free(e);
	}
	free(buf);
	archive_write_close(a);
	archive_write_free(a);
	return tar;
}

static int write_image(const char *tar, const char *img, uint64_t size, char *err, size_t errlen)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK)
		abort();
	struct ext4_params p = {.size = size, .label = "ROOT", .uuid = UUID, .hash_seed = SEED, .time = T0};
	struct ext4_result res;
	int r = ext4_write_tree(img, &p, a, &res, err, errlen);
	archive_read_free(a);
	return r;
}

static int sh(const char *cmd)
{
	_cleanup_free_ char *c = xasprintf("cd %s && (%s) >/dev/null 2>&1", dir, cmd);
	return system(c);
}

static ext2_filsys fs;
static char *tree_tar;

static int look(const char *path, ext2_ino_t *n, struct ext2_inode_large *ino)
{
	if (ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, n))
		return -1;
	return ext2fs_read_inode_full(fs, *n, (struct ext2_inode *)ino, sizeof(*ino)) ? -1 : 0;
}

TEST(write_and_fsck)
{
	char err[512] = "";
	tree_tar = make_fixture(false);
	_cleanup_free_ char *img = xasprintf("%s/a.img", dir);
	int r = write_image(tree_tar, img, 64 * MiB, err, sizeof(err));
	if (r < 0)
		FAIL_AT("ext4_write_tree: %d %s", r, err);
	ASSERT_EQ(sh("e2fsck -fn a.img"), 0);
	ASSERT_EQ(sh("debugfs -R 'ea_list /usr/bin/ping' a.img 2>&1 | grep -q security.capability"), 0);
	ASSERT_EQ(sh("debugfs -R 'ea_list /etc/hello' a.img 2>&1 | grep -q 'user.comment.*a greeting'"), 0);
	ASSERT_EQ(sh("dumpe2fs -h a.img 2>/dev/null | grep -q '^Filesystem UUID: *" UUID "'"), 0);
	ASSERT_EQ(sh("dumpe2fs -h a.img 2>/dev/null | grep -q '^Directory Hash Seed: *" SEED "'"), 0);
	ASSERT_EQ(sh("dumpe2fs -h a.img 2>/dev/null | grep -q '^Filesystem volume name: *ROOT'"), 0);
	ASSERT_EQ(sh("dumpe2fs -h a.img 2>/dev/null | grep '^Filesystem features:' | "
		     "grep has_journal | grep ext_attr | grep resize_inode | grep dir_index | "
		     "grep filetype | grep extent | grep 64bit | grep flex_bg | grep sparse_super | "
		     "grep large_file | grep huge_file | grep dir_nlink | grep extra_isize | "
		     "grep -q metadata_csum"), 0);
	ASSERT_EQ(sh("debugfs -R 'cat /grüße-файл' a.img 2>/dev/null | grep -q utf-8"), 0);
	ASSERT_EQ(sh("debugfs -R 'dump /var/big big.out' a.img && debugfs -R 'dump /var/sparse sparse.out' a.img && "
		     "tar -xf tree.tar var/big var/sparse && cmp big.out var/big && cmp sparse.out var/sparse"), 0);
}

TEST(read_back)
{
	_cleanup_free_ char *img = xasprintf("%s/a.img", dir);
	ASSERT_EQ(ext2fs_open2(img, NULL, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs), 0);
	struct {
		const char *path;
		unsigned mode, uid, gid;
		uint64_t size;
		time_t mtime;
	} want[] = {
		{"/", LINUX_S_IFDIR | 0755, 0, 0, 4096, T0},
		{"/etc/hello", LINUX_S_IFREG | 0640, 1000, 1001, 6, T0 + 1},
		{"/etc/empty", LINUX_S_IFREG | 0644, 0, 0, 0, T0},
		{"/var/sparse", LINUX_S_IFREG | 0644, 0, 0, 4 * MiB, T0},
		{"/var/big", LINUX_S_IFREG | 0600, 0, 0, MiB, T0},
		{"/private", LINUX_S_IFDIR | 0700, 0, 0, 4096, T0},
		{"/usr", LINUX_S_IFDIR | 0755, 0, 0, 4096, T0},
		{"/usr/bin/ping", LINUX_S_IFREG | 04755, 0, 0, 4, T0 - 100},
		{"/link-fast", LINUX_S_IFLNK | 0777, 0, 0, 9, T0},
		{"/link-slow", LINUX_S_IFLNK | 0777, 0, 0, 200, T0},
		{"/dev/null", LINUX_S_IFCHR | 0666, 0, 0, 0, T0},
		{"/dev/sda", LINUX_S_IFBLK | 0660, 0, 0, 0, T0},
		{"/dev/wide", LINUX_S_IFCHR | 0600, 0, 0, 0, T0},
		{"/dev/fifo", LINUX_S_IFIFO | 0600, 0, 0, 0, T0},
		{"/grüße-файл", LINUX_S_IFREG | 0644, 0, 0, 6, T0},
	};
	ext2_ino_t n;
	struct ext2_inode_large ino;
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		if (look(want[i].path, &n, &ino) < 0)
			FAIL_AT("%s: not found", want[i].path);
		if (ino.i_mode != want[i].mode || inode_uid(ino) != want[i].uid ||
		    inode_gid(ino) != want[i].gid || EXT2_I_SIZE(&ino) != want[i].size ||
		    ino.i_mtime != (__u32)want[i].mtime || ino.i_atime != ino.i_mtime ||
		    ino.i_ctime != ino.i_mtime || ino.i_crtime != ino.i_mtime)
			FAIL_AT("%s: mode 0%o uid %u gid %u size %llu mtime %u atime %u ctime %u crtime %u",
				want[i].path, ino.i_mode, inode_uid(ino), inode_gid(ino),
				(unsigned long long)EXT2_I_SIZE(&ino), ino.i_mtime, ino.i_atime, ino.i_ctime,
				ino.i_crtime);
	}
	/* Hard link: one inode, two names. */
	ext2_ino_t hello, hard;
	ASSERT_EQ(look("/etc/hello", &hello, &ino), 0);
	ASSERT_EQ(ino.i_links_count, 2);
	ASSERT_EQ(look("/etc/hard", &hard, &ino), 0);
	ASSERT_EQ(hard, hello);
	/* Sparse: the 2 MiB of zeros are a hole. */
	ASSERT_EQ(look("/var/sparse", &n, &ino), 0);
	ASSERT_TRUE(ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)&ino) * 512 <= 2 * MiB + 64 * 1024);
	/* Symbolic links: fast in the inode, slow in a block. */
	ASSERT_EQ(look("/link-fast", &n, &ino), 0);
	ASSERT_TRUE(!memcmp(ino.i_block, "etc/hello", 9) && ext2fs_is_fast_symlink((struct ext2_inode *)&ino));
	ASSERT_EQ(look("/link-slow", &n, &ino), 0);
	ASSERT_TRUE(!ext2fs_is_fast_symlink((struct ext2_inode *)&ino));
	char *blk = xmalloc(fs->blocksize);
	blk64_t pb;
	ASSERT_EQ(ext2fs_bmap2(fs, n, (struct ext2_inode *)&ino, NULL, 0, 0, NULL, &pb), 0);
	ASSERT_EQ(io_channel_read_blk64(fs->io, pb, 1, blk), 0);
	ASSERT_TRUE(!memcmp(blk, slow_target, 200) && blk[200] == 0);
	free(blk);
	/* Devices: old and new encodings. */
	ASSERT_EQ(look("/dev/null", &n, &ino), 0);
	ASSERT_EQ(ino.i_block[0], 1 * 256 + 3);
	ASSERT_EQ(look("/dev/sda", &n, &ino), 0);
	ASSERT_EQ(ino.i_block[0], 8 * 256 + 0);
	ASSERT_EQ(look("/dev/wide", &n, &ino), 0);
	ASSERT_EQ(ino.i_block[1], (70000 & 0xff) | (300 << 8) | ((70000 & ~0xff) << 12));
	/* The directory of 500 grew past one block; all names there. */
	ASSERT_EQ(look("/many", &n, &ino), 0);
	ASSERT_TRUE(EXT2_I_SIZE(&ino) > 4096);
	ext2_ino_t f;
	ASSERT_EQ(ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, "/many/a-rather-long-file-name-number-499", &f), 0);
	/* xattrs. */
	struct ext2_xattr_handle *h;
	void *v;
	size_t vlen;
	ASSERT_EQ(look("/usr/bin/ping", &n, &ino), 0);
	ASSERT_EQ(ext2fs_xattrs_open(fs, n, &h), 0);
	ASSERT_EQ(ext2fs_xattrs_read(h), 0);
	ASSERT_EQ(ext2fs_xattr_get(h, "security.capability", &v, &vlen), 0);
	ASSERT_TRUE(vlen == sizeof(cap) && !memcmp(v, cap, vlen));
	ext2fs_free_mem(&v);
	ext2fs_xattrs_close(&h);
	/* Superblock times are the caller's. */
	ASSERT_EQ(fs->super->s_mkfs_time, T0);
	ASSERT_EQ(fs->super->s_wtime, T0);
	ASSERT_EQ(fs->super->s_lastcheck, T0);
	ext2fs_close_free(&fs);
}

TEST(same_bytes_twice)
{
	char err[512] = "";
	_cleanup_free_ char *img = xasprintf("%s/b.img", dir);
	ASSERT_EQ(write_image(tree_tar, img, 64 * MiB, err, sizeof(err)), 0);
	ASSERT_EQ(sh("cmp a.img b.img"), 0);
	/* At an offset (a partition), the same file system. */
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ASSERT_EQ(archive_read_open_filename(a, tree_tar, 65536), ARCHIVE_OK);
	struct ext4_params p = {.offset = MiB, .size = 64 * MiB, .label = "ROOT", .uuid = UUID,
				.hash_seed = SEED, .time = T0};
	_cleanup_free_ char *disk = xasprintf("%s/disk.img", dir);
	int r = ext4_write_tree(disk, &p, a, NULL, err, sizeof(err));
	archive_read_free(a);
	ASSERT_EQ(r, 0);
	ASSERT_EQ(sh("cmp -i 1048576:0 disk.img a.img"), 0);
}

TEST(too_big_names_the_file)
{
	char err[512] = "";
	_cleanup_free_ char *tar = make_fixture(true);
	_cleanup_free_ char *img = xasprintf("%s/small.img", dir);
	int r = write_image(tar, img, 16 * MiB, err, sizeof(err));
	ASSERT_TRUE(r < 0);
	if (!strstr(err, "'/var/huge'"))
		FAIL_AT("error does not name the file: %s", err);
	printf("  error as expected: %s\n", err);
}

TEST(repeated_path_refused)
{
	char err[512] = "";
	_cleanup_free_ char *tar = xasprintf("%s/dup.tar", dir);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax(a);
	ASSERT_EQ(archive_write_open_filename(a, tar), ARCHIVE_OK);
	add(a, "etc/x", AE_IFREG | 0644, 0, 0, T0, "1", 1);
	add(a, "etc/x", AE_IFREG | 0644, 0, 0, T0, "2", 1);
	archive_write_close(a);
	archive_write_free(a);
	_cleanup_free_ char *img = xasprintf("%s/dup.img", dir);
	ASSERT_EQ(write_image(tar, img, 16 * MiB, err, sizeof(err)), -EEXIST);
	ASSERT_TRUE(strstr(err, "'/etc/x'") != NULL);
}
