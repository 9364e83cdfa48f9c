/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "ext4.h"

#include "util.h"

#include <archive.h>
#include <archive_entry.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/stat.h>

#define BLOCK_SIZE 4096
#define INODE_SIZE 256
#define INODE_RATIO 16384

/* Every path written, to its inode: parents without lookups, hard links,
 * repeated paths. Open addressing, FNV-1a. */
struct node {
	char *path;
	ext2_ino_t ino;
	bool dir;
};
struct nodes {
	struct node *v;
	size_t n, cap;
};

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct node *nodes_find(struct nodes *t, const char *path)
{
	if (!t->cap)
		return NULL;
	for (size_t i = hash_path(path) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->v[i].path)
			return NULL;
		if (!strcmp(t->v[i].path, path))
			return &t->v[i];
	}
}

static void nodes_add(struct nodes *t, const char *path, ext2_ino_t ino, bool dir)
{
	if (2 * (t->n + 1) > t->cap) {
		struct nodes g = {xcalloc(t->cap ? 2 * t->cap : 1024, sizeof(struct node)), 0,
				  t->cap ? 2 * t->cap : 1024};
		for (size_t i = 0; i < t->cap; i++)
			if (t->v[i].path) {
				size_t j = hash_path(t->v[i].path) & (g.cap - 1);
				while (g.v[j].path)
					j = (j + 1) & (g.cap - 1);
				g.v[j] = t->v[i];
				g.n++;
			}
		free(t->v);
		*t = g;
	}
	size_t i = hash_path(path) & (t->cap - 1);
	while (t->v[i].path)
		i = (i + 1) & (t->cap - 1);
	t->v[i] = (struct node){xstrdup(path), ino, dir};
	t->n++;
}

static void nodes_release(struct nodes *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->v[i].path);
	free(t->v);
}

struct writer {
	ext2_filsys fs;
	struct archive *a;
	struct nodes nodes;
	time_t t;
	unsigned char *block; /* one block of file data being gathered */
	unsigned char *zero;
	struct ext4_result *res;
	char *err;
	size_t errlen;
};

static int fail(struct writer *w, const char *path, const char *what, errcode_t e)
{
	snprintf(w->err, w->errlen, "'/%s': %s: %s", path, what, error_message(e));
	return -MK_ERR_EXT2FS;
}

int ext4_parse_uuid(const char *s, unsigned char out[16])
{
	unsigned n = 0;
	for (size_t i = 0; s && s[i] && n < 32; i++) {
		if ((i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		int c = s[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
				 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return -EINVAL;
		out[n / 2] = (unsigned char)(n % 2 ? out[n / 2] | v : v << 4);
		n++;
	}
	return n == 32 && strlen(s) == 36 ? 0 : -EINVAL;
}

/* An inode time: 32 low bits of the seconds, and in the extra field the
 * epoch bits (for times after 2038) and the nanoseconds. */
static void set_times(struct ext2_inode_large *ino, time_t sec, long nsec)
{
	__u32 lo = (__u32)sec;
	__u32 extra = (__u32)((((int64_t)sec - (int32_t)lo) >> 32) & 3) | (__u32)nsec << 2;
	ino->i_atime = ino->i_ctime = ino->i_mtime = ino->i_crtime = lo;
	ino->i_atime_extra = ino->i_ctime_extra = ino->i_mtime_extra = ino->i_crtime_extra = extra;
}

static void set_owner(struct ext2_inode_large *ino, unsigned mode, uint32_t uid, uint32_t gid)
{
	ino->i_mode = (__u16)mode;
	ino->i_uid = (__u16)uid;
	ext2fs_set_i_uid_high(*ino, uid >> 16);
	ino->i_gid = (__u16)gid;
	ext2fs_set_i_gid_high(*ino, gid >> 16);
}

/* Mode, owner and times of an existing inode (made by ext2fs_mkdir or
 * ext2fs_symlink) from the entry. */
static errcode_t set_attrs(ext2_filsys fs, ext2_ino_t n, unsigned mode, uint32_t uid, uint32_t gid,
			   time_t sec, long nsec)
{
	struct ext2_inode_large ino;
	errcode_t e = ext2fs_read_inode_full(fs, n, (struct ext2_inode *)&ino, sizeof(ino));
	if (e)
		return e;
	set_owner(&ino, (ino.i_mode & LINUX_S_IFMT) | (mode & 07777), uid, gid);
	if (ino.i_extra_isize < 24)
		ino.i_extra_isize = sizeof(ino) - EXT2_GOOD_OLD_INODE_SIZE;
	set_times(&ino, sec, nsec);
	return ext2fs_write_inode_full(fs, n, (struct ext2_inode *)&ino, sizeof(ino));
}

/* NAME in directory DIR, the directory grown by a block when full. */
static errcode_t add_link(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino, int ft)
{
	errcode_t e = ext2fs_link(fs, dir, name, ino, ft);
	if (e == EXT2_ET_DIR_NO_SPACE) {
		if ((e = ext2fs_expand_dir(fs, dir)))
			return e;
		e = ext2fs_link(fs, dir, name, ino, ft);
	}
	return e;
}

static int file_type(unsigned mode)
{
	switch (mode & AE_IFMT) {
	case AE_IFREG: return EXT2_FT_REG_FILE;
	case AE_IFDIR: return EXT2_FT_DIR;
	case AE_IFLNK: return EXT2_FT_SYMLINK;
	case AE_IFCHR: return EXT2_FT_CHRDEV;
	case AE_IFBLK: return EXT2_FT_BLKDEV;
	case AE_IFIFO: return EXT2_FT_FIFO;
	case AE_IFSOCK: return EXT2_FT_SOCK;
	}
	return EXT2_FT_UNKNOWN;
}

static int make_dir(struct writer *w, const char *path, ext2_ino_t parent, const char *name,
		    ext2_ino_t *out)
{
	ext2_ino_t n;
	errcode_t e;
	if ((e = ext2fs_new_inode(w->fs, parent, LINUX_S_IFDIR | 0755, 0, &n)) ||
	    (e = ext2fs_mkdir(w->fs, parent, n, NULL)))
		return fail(w, path, "make the directory", e);
	if ((e = add_link(w->fs, parent, name, n, EXT2_FT_DIR)))
		return fail(w, path, "link the directory", e);
	*out = n;
	return 0;
}

/* The directory that holds PATH (made 0755 root:root when the stream has
 * not made it); *NAME points into PATH at the last component. */
static int parent_of(struct writer *w, char *path, ext2_ino_t *dir, const char **name)
{
	char *slash = strrchr(path, '/');
	if (!slash) {
		*dir = EXT2_ROOT_INO;
		*name = path;
		return 0;
	}
	*slash = '\0';
	*name = slash + 1;
	struct node *nd = nodes_find(&w->nodes, path);
	int r = 0;
	if (nd && !nd->dir) {
		snprintf(w->err, w->errlen, "'/%s': not a directory, but the stream has entries below it",
			 path);
		r = -ENOTDIR;
	} else if (nd) {
		*dir = nd->ino;
	} else {
		ext2_ino_t up;
		const char *base;
		if ((r = parent_of(w, path, &up, &base)) == 0 && (r = make_dir(w, path, up, base, dir)) == 0) {
			errcode_t e = set_attrs(w->fs, *dir, 0755, 0, 0, w->t, 0);
			if (e)
				r = fail(w, path, "write the inode", e);
			else
				nodes_add(&w->nodes, path, *dir, true);
		}
	}
	*slash = '/';
	return r;
}

static errcode_t set_xattrs(ext2_filsys fs, ext2_ino_t n, struct archive_entry *entry)
{
	if (archive_entry_xattr_reset(entry) == 0)
		return 0;
	struct ext2_xattr_handle *h;
	errcode_t e = ext2fs_xattrs_open(fs, n, &h), e2;
	if (e)
		return e;
	if (!(e = ext2fs_xattrs_read(h))) {
		const char *name;
		const void *value;
		size_t size;
		while (!e && archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK)
			e = ext2fs_xattr_set(h, name, value, size);
	}
	e2 = ext2fs_xattrs_close(&h);
	return e ? e : e2;
}

/* The gathered block BLK of an open file, unless it is all zeros (a hole). */
static errcode_t flush_block(struct writer *w, ext2_file_t f, uint64_t blk, size_t len)
{
	if (!memcmp(w->block, w->zero, len))
		return 0;
	unsigned done;
	errcode_t e = ext2fs_file_llseek(f, blk * BLOCK_SIZE, EXT2_SEEK_SET, NULL);
	if (!e)
		e = ext2fs_file_write(f, w->block, (unsigned)len, &done);
	if (!e && done != len)
		e = EXT2_ET_SHORT_WRITE;
	return e;
}

static int write_data(struct writer *w, const char *path, ext2_ino_t n, struct ext2_inode *ino,
		      uint64_t size)
{
	ext2_file_t f;
	errcode_t e = ext2fs_file_open2(w->fs, n, ino, EXT2_FILE_WRITE, &f), e2;
	if (e)
		return fail(w, path, "open the file", e);
	const void *buf;
	size_t len;
	la_int64_t off;
	uint64_t cur = 0; /* the block being gathered */
	size_t fill = 0;  /* bytes of it up to the last one set */
	int r;
	memset(w->block, 0, BLOCK_SIZE);
	while ((r = archive_read_data_block(w->a, &buf, &len, &off)) == ARCHIVE_OK) {
		const unsigned char *p = buf;
		uint64_t o = (uint64_t)off;
		w->res->bytes += len;
		while (len) {
			uint64_t b = o / BLOCK_SIZE;
			size_t in = o % BLOCK_SIZE, k = BLOCK_SIZE - in < len ? BLOCK_SIZE - in : len;
			if (b != cur) {
				if (fill && (e = flush_block(w, f, cur, fill)))
					goto out;
				memset(w->block, 0, BLOCK_SIZE);
				cur = b;
				fill = 0;
			}
			memcpy(w->block + in, p, k);
			if (in + k > fill)
				fill = in + k;
			p += k;
			o += k;
			len -= k;
		}
	}
	if (r != ARCHIVE_EOF) {
		snprintf(w->err, w->errlen, "'/%s': read the data: %s", path, archive_error_string(w->a));
		ext2fs_file_close(f);
		return -MK_ERR_ARCHIVE;
	}
	if (fill && (e = flush_block(w, f, cur, fill)))
		goto out;
	e = ext2fs_file_set_size2(f, size);
out:
	e2 = ext2fs_file_close(f);
	if (e || e2)
		return fail(w, path, "write the data", e ? e : e2);
	return 0;
}

/* A new inode that is not a directory or a symbolic link. */
static int make_inode(struct writer *w, const char *path, ext2_ino_t parent, const char *name,
		      struct archive_entry *entry, ext2_ino_t *out)
{
	ext2_filsys fs = w->fs;
	unsigned mode = archive_entry_mode(entry);
	int ft = file_type(mode);
	ext2_ino_t n;
	errcode_t e;
	if ((e = ext2fs_new_inode(fs, parent, LINUX_S_IFREG | 0644, 0, &n)))
		return fail(w, path, "allocate an inode", e);
	if ((e = add_link(fs, parent, name, n, ft)))
		return fail(w, path, "link the inode", e);
	ext2fs_inode_alloc_stats2(fs, n, +1, 0);

	struct ext2_inode_large ino;
	memset(&ino, 0, sizeof(ino));
	set_owner(&ino, mode & 0177777, (uint32_t)archive_entry_uid(entry), (uint32_t)archive_entry_gid(entry));
	ino.i_links_count = 1;
	ino.i_extra_isize = sizeof(ino) - EXT2_GOOD_OLD_INODE_SIZE;
	set_times(&ino, archive_entry_mtime(entry), archive_entry_mtime_nsec(entry));
	if (ft == EXT2_FT_CHRDEV || ft == EXT2_FT_BLKDEV) {
		unsigned long ma = archive_entry_rdevmajor(entry), mi = archive_entry_rdevminor(entry);
		if (ma < 256 && mi < 256)
			ino.i_block[0] = (__u32)(ma * 256 + mi);
		else
			ino.i_block[1] = (__u32)((mi & 0xff) | (ma << 8) | ((mi & ~0xffUL) << 12));
	}
	uint64_t size = ft == EXT2_FT_REG_FILE && archive_entry_size_is_set(entry) ? (uint64_t)archive_entry_size(entry) : 0;
	if (ft == EXT2_FT_REG_FILE) {
		ext2_extent_handle_t h;
		ino.i_flags |= EXT4_EXTENTS_FL;
		if ((e = ext2fs_inode_size_set(fs, (struct ext2_inode *)&ino, size)) ||
		    (e = ext2fs_extent_open2(fs, n, (struct ext2_inode *)&ino, &h)))
			return fail(w, path, "set up the inode", e);
		ext2fs_extent_free(h);
	}
	if ((e = ext2fs_write_inode_full(fs, n, (struct ext2_inode *)&ino, sizeof(ino))))
		return fail(w, path, "write the inode", e);
	*out = n;
	if (ft == EXT2_FT_REG_FILE)
		return write_data(w, path, n, (struct ext2_inode *)&ino, size);
	return 0;
}

static int add_hardlink(struct writer *w, const char *path, ext2_ino_t parent, const char *name,
			const char *target, ext2_ino_t *out)
{
	struct node *nd = nodes_find(&w->nodes, target);
	if (!nd || nd->dir) {
		snprintf(w->err, w->errlen, "'/%s': hard link to '/%s', %s", path, target,
			 nd ? "a directory" : "which the stream has not had before");
		return -EINVAL;
	}
	struct ext2_inode_large ino;
	errcode_t e = ext2fs_read_inode_full(w->fs, nd->ino, (struct ext2_inode *)&ino, sizeof(ino));
	if (!e)
		e = add_link(w->fs, parent, name, nd->ino, file_type(ino.i_mode));
	if (!e && (e = ext2fs_read_inode_full(w->fs, nd->ino, (struct ext2_inode *)&ino, sizeof(ino))) == 0) {
		ino.i_links_count++;
		e = ext2fs_write_inode_full(w->fs, nd->ino, (struct ext2_inode *)&ino, sizeof(ino));
	}
	if (e)
		return fail(w, path, "link", e);
	*out = nd->ino;
	return 0;
}

/* "./a/b/" and "/a/b" as "a/b"; the root as "". */
static char *normalize(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p++;
	while (*p == '/')
		p++;
	if (!strcmp(p, "."))
		p = "";
	char *s = xstrdup(p);
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int add_entry(struct writer *w, struct archive_entry *entry)
{
	const char *raw = archive_entry_pathname(entry);
	if (!raw) {
		snprintf(w->err, w->errlen, "an entry without a path name");
		return -EINVAL;
	}
	_cleanup_free_ char *path = normalize(raw);
	unsigned mode = archive_entry_mode(entry);
	const char *hardlink = archive_entry_hardlink(entry);
	bool dir = !hardlink && (mode & AE_IFMT) == AE_IFDIR;
	uint32_t uid = (uint32_t)archive_entry_uid(entry), gid = (uint32_t)archive_entry_gid(entry);
	ext2_ino_t n;
	errcode_t e;
	int r;

	struct node *nd = *path ? nodes_find(&w->nodes, path) : NULL;
	if (!*path || nd) {
		if (!dir || (nd && !nd->dir)) {
			snprintf(w->err, w->errlen, "'/%s': comes twice in the stream", path);
			return -EEXIST;
		}
		n = nd ? nd->ino : EXT2_ROOT_INO;
		if ((e = set_attrs(w->fs, n, mode, uid, gid, archive_entry_mtime(entry),
				   archive_entry_mtime_nsec(entry))) ||
		    (e = set_xattrs(w->fs, n, entry)))
			return fail(w, path, "set the directory's attributes", e);
		return 0;
	}

	ext2_ino_t parent;
	const char *name;
	if ((r = parent_of(w, path, &parent, &name)) < 0)
		return r;
	_cleanup_free_ char *leaf = xstrdup(name); /* parent_of leaves PATH whole */
	if (hardlink) {
		_cleanup_free_ char *target = normalize(hardlink);
		if ((r = add_hardlink(w, path, parent, leaf, target, &n)) < 0)
			return r;
		nodes_add(&w->nodes, path, n, false);
		return 0;
	}
	switch (mode & AE_IFMT) {
	case AE_IFDIR:
		if ((r = make_dir(w, path, parent, leaf, &n)) < 0)
			return r;
		if ((e = set_attrs(w->fs, n, mode, uid, gid, archive_entry_mtime(entry),
				   archive_entry_mtime_nsec(entry))))
			return fail(w, path, "write the inode", e);
		break;
	case AE_IFLNK: {
		const char *target = archive_entry_symlink(entry);
		if ((e = ext2fs_new_inode(w->fs, parent, LINUX_S_IFLNK | 0777, 0, &n)) ||
		    (e = ext2fs_symlink(w->fs, parent, n, NULL, target ? target : "")))
			return fail(w, path, "make the symbolic link", e);
		if ((e = add_link(w->fs, parent, leaf, n, EXT2_FT_SYMLINK)))
			return fail(w, path, "link the symbolic link", e);
		if ((e = set_attrs(w->fs, n, mode, uid, gid, archive_entry_mtime(entry),
				   archive_entry_mtime_nsec(entry))))
			return fail(w, path, "write the inode", e);
		break;
	}
	case AE_IFREG:
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
	case AE_IFSOCK:
		if ((r = make_inode(w, path, parent, leaf, entry, &n)) < 0)
			return r;
		break;
	default:
		snprintf(w->err, w->errlen, "'/%s': unknown file type 0%o", path, mode & AE_IFMT);
		return -EINVAL;
	}
	if ((e = set_xattrs(w->fs, n, entry)))
		return fail(w, path, "set the xattrs", e);
	nodes_add(&w->nodes, path, n, dir);
	return 0;
}

/* The empty file system, as mke2fs makes it (without its random parts). */
static int make_fs(struct writer *w, const char *path, const struct ext4_params *p)
{
	struct ext2_super_block param;
	unsigned char uuid[16], seed[16];
	errcode_t e;
	if (ext4_parse_uuid(p->uuid, uuid) < 0 || ext4_parse_uuid(p->hash_seed, seed) < 0) {
		snprintf(w->err, w->errlen, "'%s': bad UUID or hash seed", path);
		return -EINVAL;
	}
	memset(&param, 0, sizeof(param));
	param.s_rev_level = EXT2_DYNAMIC_REV;
	param.s_log_block_size = 2; /* 1024 << 2 */
	param.s_inode_size = INODE_SIZE;
	param.s_log_groups_per_flex = 4;
	ext2fs_blocks_count_set(&param, p->size / BLOCK_SIZE);
	param.s_inodes_count = (__u32)(p->size / INODE_RATIO);
	ext2fs_r_blocks_count_set(&param, p->size / BLOCK_SIZE / 20);
	ext2fs_set_feature_journal(&param);
	ext2fs_set_feature_xattr(&param);
	ext2fs_set_feature_resize_inode(&param);
	ext2fs_set_feature_dir_index(&param);
	ext2fs_set_feature_filetype(&param);
	ext2fs_set_feature_extents(&param);
	ext2fs_set_feature_64bit(&param);
	ext2fs_set_feature_flex_bg(&param);
	ext2fs_set_feature_sparse_super(&param);
	ext2fs_set_feature_large_file(&param);
	ext2fs_set_feature_huge_file(&param);
	ext2fs_set_feature_dir_nlink(&param);
	ext2fs_set_feature_extra_isize(&param);
	ext2fs_set_feature_metadata_csum(&param);
	param.s_default_mount_opts = EXT2_DEFM_XATTR_USER | EXT2_DEFM_ACL;

	if ((e = ext2fs_initialize(path, EXT2_FLAG_64BITS, &param, unix_io_manager, &w->fs)))
		return fail(w, "", "make the file system", e);
	ext2_filsys fs = w->fs;
	_cleanup_free_ char *opts = xasprintf("offset=%llu", (unsigned long long)p->offset);
	if ((e = io_channel_set_options(fs->io, opts)))
		return fail(w, "", "set the file system's offset", e);
	fs->now = p->time;
	struct ext2_super_block *sb = fs->super;
	sb->s_kbytes_written = 0; /* else the count of bytes written goes in */
	memcpy(sb->s_uuid, uuid, 16);
	memcpy(sb->s_hash_seed, seed, 16);
	sb->s_def_hash_version = EXT2_HASH_HALF_MD4;
	sb->s_checksum_type = EXT2_CRC32C_CHKSUM;
	ext2fs_init_csum_seed(fs);
	sb->s_max_mnt_count = -1;
	memset(sb->s_volume_name, 0, sizeof(sb->s_volume_name));
	if (p->label)
		strncpy((char *)sb->s_volume_name, p->label, sizeof(sb->s_volume_name));

	if ((e = ext2fs_allocate_tables(fs)) || (e = ext2fs_convert_subcluster_bitmap(fs, &fs->block_map)))
		return fail(w, "", "allocate the group tables", e);
	/* The range was punched: inode tables read as zeros. */
	for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
		ext2fs_bg_flags_set(fs, g, EXT2_BG_INODE_ZEROED);
		ext2fs_group_desc_csum_set(fs, g);
	}
	struct ext2_inode_large zero;
	memset(&zero, 0, sizeof(zero));
	for (ext2_ino_t i = 1; i < EXT2_FIRST_INO(sb); i++)
		if ((e = ext2fs_write_inode_full(fs, i, (struct ext2_inode *)&zero, sizeof(zero))))
			return fail(w, "", "write the reserved inodes", e);
	if ((e = ext2fs_mkdir(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, NULL)) ||
	    (e = set_attrs(fs, EXT2_ROOT_INO, 0755, 0, 0, p->time, 0)))
		return fail(w, "", "make the root directory", e);
	ext2_ino_t lpf;
	if ((e = ext2fs_new_inode(fs, EXT2_ROOT_INO, LINUX_S_IFDIR | 0700, 0, &lpf)) ||
	    (e = ext2fs_mkdir(fs, EXT2_ROOT_INO, lpf, NULL)) ||
	    (e = add_link(fs, EXT2_ROOT_INO, "lost+found", lpf, EXT2_FT_DIR)))
		return fail(w, "lost+found", "make the directory", e);
	for (int i = 1; i < 16384 / BLOCK_SIZE; i++)
		if ((e = ext2fs_expand_dir(fs, lpf)))
			return fail(w, "lost+found", "expand the directory", e);
	if ((e = set_attrs(fs, lpf, 0700, 0, 0, p->time, 0)))
		return fail(w, "lost+found", "write the inode", e);
	nodes_add(&w->nodes, "lost+found", lpf, true);
	for (ext2_ino_t i = EXT2_ROOT_INO + 1; i < EXT2_FIRST_INODE(sb); i++)
		ext2fs_inode_alloc_stats2(fs, i, +1, 0);
	ext2fs_mark_ib_dirty(fs);
	ext2fs_mark_inode_bitmap2(fs->inode_map, EXT2_BAD_INO);
	ext2fs_inode_alloc_stats2(fs, EXT2_BAD_INO, +1, 0);
	if ((e = ext2fs_update_bb_inode(fs, NULL)))
		return fail(w, "", "write the bad blocks inode", e);
	if ((e = ext2fs_create_resize_inode(fs)))
		return fail(w, "", "make the resize inode", e);
	struct ext2fs_journal_params jp;
	if ((e = ext2fs_get_journal_params(&jp, fs)) ||
	    (e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL,
					   EXT2_MKJOURNAL_LAZYINIT | EXT2_MKJOURNAL_NO_MNT_CHECK)))
		return fail(w, "", "make the journal", e);
	return 0;
}

/* PATH made to hold the range, which is punched (reads as zeros). */
static int prepare_file(const char *path, const struct ext4_params *p, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot open '%s': %s", path, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "'%s' is not a regular file", path);
		return -MK_ERR_NOT_REGULAR;
	}
	uint64_t end = p->offset + p->size;
	if ((uint64_t)st.st_size < end && ftruncate(fd, (off_t)end) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot extend '%s': %s", path, strerror(-r));
		return r;
	}
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)p->offset, (off_t)p->size) < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot punch '%s': %s", path, strerror(-r));
		return r;
	}
	return 0;
}

int ext4_write_tree(const char *path, const struct ext4_params *p, struct archive *tree,
		    struct ext4_result *res, char *err, size_t errlen)
{
	struct ext4_result dummy;
	struct writer w = {.a = tree, .t = p->time, .res = res ? res : &dummy, .err = err, .errlen = errlen};
	struct archive_entry *entry;
	int r;
	memset(w.res, 0, sizeof(*w.res));
	if (p->time <= 0 || p->size / BLOCK_SIZE < 4096 || p->offset % 512) {
		snprintf(err, errlen, "'%s': a file system needs a time after 1970, at least 16 MiB and "
			 "an offset in whole sectors", path);
		return -EINVAL;
	}
	if ((r = prepare_file(path, p, err, errlen)) < 0)
		return r;
	initialize_ext2_error_table();
	w.block = xmalloc(BLOCK_SIZE);
	w.zero = xcalloc(1, BLOCK_SIZE);
	if ((r = make_fs(&w, path, p)) == 0) {
		int ar;
		while ((ar = archive_read_next_header(tree, &entry)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
			if ((r = add_entry(&w, entry)) < 0)
				break;
			w.res->entries++;
		}
		if (r == 0 && ar != ARCHIVE_EOF) {
			snprintf(err, errlen, "'%s': read the tree: %s", path, archive_error_string(tree));
			r = -MK_ERR_ARCHIVE;
		}
	}
	free(w.block);
	free(w.zero);
	nodes_release(&w.nodes);
	if (w.fs) {
		if (r == 0) {
			struct ext2_super_block *sb = w.fs->super;
			sb->s_mkfs_time = sb->s_wtime = sb->s_mtime = sb->s_lastcheck = (__u32)p->time;
			ext2fs_mark_super_dirty(w.fs);
			errcode_t e = ext2fs_close_free(&w.fs);
			if (e) {
				snprintf(err, errlen, "'%s': write the file system: %s", path, error_message(e));
				r = -MK_ERR_EXT2FS;
			}
		} else {
			ext2fs_free(w.fs); /* not flushed: the caller removes the file */
		}
	}
	return r;
}
