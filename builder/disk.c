/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "disk.h"

#include <et/com_err.h>
#include <archive.h>
#include <archive_entry.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

int disk_fail(struct disk *d, const char *what)
{
	const char *e = d->g ? guestfs_last_error(d->g) : NULL;
	snprintf(d->err, d->errlen, "%s: %s", what, e ? e : "libguestfs failed");
	free(d->text);
	d->text = e ? xstrdup(e) : NULL;
	return -MK_ERR_GUESTFS;
}

void disk_uuid(const char *seed, char out[37])
{
	char h[65];
	mk_sha256_hex(seed, strlen(seed), h);
	/* Version 4 and RFC 4122 variant bits, so tools accept it. */
	h[12] = '4';
	h[16] = "89ab"[strtol((char[]){h[16], 0}, NULL, 16) & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static char *newest_kernel(void)
{
	_cleanup_pclose_ FILE *p = popen("ls -1v /boot/vmlinuz-* 2>/dev/null | tail -n 1", "re");
	char line[512] = "";
	if (!p || !fgets(line, sizeof(line), p))
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return line[0] && access(line, R_OK) == 0 ? xstrdup(line) : NULL;
}

/*
 * /dev/kvm can exist and open and still not run a guest (nested KVM here
 * hangs while the kernel decompresses). The only sure test is a boot: the
 * host kernel with KVM must reach its panic for a missing root within a few
 * seconds. The answer is kept per host boot.
 */
static bool kvm_works(const char *cache_dir)
{
	_cleanup_free_ char *boot_id = NULL;
	_cleanup_free_ char *stamp = NULL;
	_cleanup_free_ char *saved = NULL;
	_cleanup_free_ char *kernel = NULL;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	if (mk_read_file("/proc/sys/kernel/random/boot_id", &boot_id, NULL) == 0) {
		boot_id[strcspn(boot_id, "\n")] = '\0';
		/* One answer for the whole machine when we may write /run (a
		 * tmpfs, emptied at boot), else per cache. */
		const char *dir = mk_mkdir_p("/run/mkmesh", 0755) == 0 && access("/run/mkmesh", W_OK) == 0
					  ? "/run/mkmesh"
					  : cache_dir;
		stamp = xasprintf("%s/kvm-probe-%s", dir, boot_id);
		if (mk_read_file(stamp, &saved, NULL) == 0)
			return saved[0] == '1';
	}
	kernel = newest_kernel();
	if (!kernel)
		return false;

	mk_log_info("  checking whether KVM works here (once per boot, up to 20 s)");
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return false;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* Its own process group, which mkmesh stops on Ctrl-C, and killed
		 * with mkmesh even if mkmesh is killed outright: a probe left
		 * behind spins a CPU for ever. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(pfd[1], STDOUT_FILENO);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDERR_FILENO);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-m", "256",
		       "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel",
		       kernel, "-append", "console=ttyS0 panic=-1 quiet", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	if (pid > 0)
		mk_child_register(pid);
	bool ok = false;
	char buf[4096];
	size_t seen = 0;
	double deadline = mk_now() + 20;
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	while (!ok && mk_now() < deadline) {
		if (poll(&p, 1, 500) <= 0)
			continue;
		ssize_t n = read(pfd[0], buf + seen, sizeof(buf) - 1 - seen);
		if (n <= 0)
			break;
		seen += (size_t)n;
		buf[seen] = '\0';
		if (strstr(buf, "Kernel panic") || strstr(buf, "VFS:"))
			ok = true;
		if (seen > sizeof(buf) / 2) { /* keep the tail */
			memmove(buf, buf + seen - 256, 256);
			seen = 256;
		}
	}
	close(pfd[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		mk_child_forget(pid);
	}
	if (stamp)
		mk_write_file_atomic(stamp, ok ? "1\n" : "0\n", 2, 0644);
	return ok;
}

/* Starts the appliance with the disk at PATH and, when TREE is not NULL, the
 * composed tree as a second, read-only disk. */
static int launch(struct disk *d, const char *path, const char *tree, const char *cache_dir)
{
	/* Respect a user's own choice; otherwise decide ourselves. */
	if (!getenv("LIBGUESTFS_BACKEND_SETTINGS") && !kvm_works(cache_dir)) {
		mk_log_warn("KVM does not work here; the appliance runs under TCG (slower)");
		setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
	}
	d->g = guestfs_create();
	if (!d->g) {
		snprintf(d->err, d->errlen, "cannot create a libguestfs handle");
		return -ENOMEM;
	}
	guestfs_set_error_handler(d->g, NULL, NULL);
	guestfs_set_memsize(d->g, 1024);
	/* One CPU: ext4 gives small files blocks from per-CPU groups, so with
	 * two the layout depends on where tar ran (see disk_normalize). */
	guestfs_set_smp(d->g, 1);
	/* virtio-blk, not the default virtio-scsi: the appliance kernel probes
	 * SCSI disks asynchronously, so which of ours and the appliance's own
	 * became sda varied from boot to boot. libguestfs's calls translate
	 * names, but the tools we run (grub-install) see the kernel's, and
	 * grub bakes a name-based BIOS hint into core.img: as the first
	 * virtio-blk disk ours is always vda, and the image always the same. */
	if (guestfs_add_drive_opts(d->g, path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
				   GUESTFS_ADD_DRIVE_OPTS_IFACE, "virtio",
				   GUESTFS_ADD_DRIVE_OPTS_CACHEMODE, "unsafe",
				   /* fstrim then punches holes: a sparse file, fast to compress */
				   GUESTFS_ADD_DRIVE_OPTS_DISCARD, "besteffort", -1) < 0)
		return disk_fail(d, "add the disk");
	if (tree && guestfs_add_drive_opts(d->g, tree, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
					   GUESTFS_ADD_DRIVE_OPTS_IFACE, "virtio",
					   GUESTFS_ADD_DRIVE_OPTS_READONLY, 1, -1) < 0)
		return disk_fail(d, "add the composed tree");
	if (guestfs_launch(d->g) < 0)
		return disk_fail(d, "start the libguestfs appliance (try 'libguestfs-test-tool')");
	pid_t qemu = guestfs_get_pid(d->g);
	if (qemu > 0)
		mk_child_register(qemu);
	return 0;
}

int disk_open(struct disk *d, const char *path, uint64_t size, const struct compose_input *in,
	      struct compose_result *res, const char *cache_dir, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		*d = (struct disk){0};
		snprintf(err, errlen, "cannot create the disk '%s': %s", path, strerror(errno));
		return -errno;
	}
	return disk_open_existing(d, path, 0, in, res, cache_dir, err, errlen);
}

/* The composed tree as a tar file in the cache directory, for the appliance
 * to read as a second disk. Padded to whole sectors (zeros after a tar's
 * end are harmless). */
static int compose_to_file(const struct compose_input *in, struct compose_result *res,
			   const char *path, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
		return -errno;
	}
	char cerr[512];
	int r = compose_run(in, fd, res, cerr, sizeof(cerr));
	if (r < 0) {
		snprintf(err, errlen, "compose: %s", cerr);
		return r;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || ftruncate(fd, (st.st_size + 511) / 512 * 512) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int disk_open_existing(struct disk *d, const char *path, int root_part,
		       const struct compose_input *in, struct compose_result *res,
		       const char *cache_dir, char *err, size_t errlen)
{
	*d = (struct disk){.path = xstrdup(path), .err = err, .errlen = errlen};
	_cleanup_free_ char *tree = in ? xasprintf("%s/tree.%d.tar", cache_dir, (int)getpid()) : NULL;
	int r;

	if (tree) {
		mk_temp_register(tree);
		if ((r = compose_to_file(in, res, tree, err, errlen)) < 0)
			goto out;
		if (root_part > 0 && (r = disk_remove_replaced(path, root_part, tree, err, errlen)) < 0)
			goto out;
	}
	r = launch(d, path, tree, cache_dir);
out:
	/* QEMU holds it open from here on; nothing is left behind. */
	if (tree) {
		unlink(tree);
		mk_temp_forget(tree);
	}
	return r;
}

int disk_close(struct disk *d)
{
	int r = 0;
	if (d->g) {
		pid_t qemu = guestfs_get_pid(d->g);
		if (guestfs_shutdown(d->g) < 0)
			r = disk_fail(d, "shut the appliance down");
		guestfs_close(d->g);
		if (qemu > 0)
			mk_child_forget(qemu);
		d->g = NULL;
	}
	free(d->path);
	d->path = NULL;
	return r;
}

int disk_command(struct disk *d, const char *what, const char *const *argv)
{
	char *out = guestfs_command(d->g, (char **)argv);
	if (!out)
		return disk_fail(d, what);
	if (*out)
		mk_log_debug("%s: %s", what, out);
	free(out);
	return 0;
}

/*
 * Not guestfs_tar_in: before unpacking, its daemon checks that chown works
 * by creating and deleting a file in the target directory. ext4 without a
 * journal (as during the build) then skips that inode for a minute, but
 * only when a clock second has passed since the deletion, so the inode
 * numbers of everything after it depended on timing (one rebuild in three
 * differed). Here the appliance's own tar reads the tree from the second
 * disk, told apart from ours by the tar magic in its first header, and
 * nothing is deleted.
 */
int disk_tar_in(struct disk *d, const char *dir)
{
	if (strchr(dir, '\'') || dir[0] != '/') {
		snprintf(d->err, d->errlen, "unpack: bad directory '%s'", dir);
		return -EINVAL;
	}
	_cleanup_free_ char *script = xasprintf(
		"set -e; tree=; "
		"for dev in /dev/vd?; do "
		"[ \"$(dd if=$dev bs=1 skip=257 count=5 2>/dev/null)\" = ustar ] && tree=$dev; "
		"done; "
		"[ -n \"$tree\" ] || { echo 'no disk holds the composed tree' >&2; exit 1; }; "
		"tar -C '/sysroot%s' -xf \"$tree\" --numeric-owner --xattrs --xattrs-include='*'",
		dir);
	char *argv[] = {script, NULL};
	char *out = guestfs_debug(d->g, "sh", argv);
	if (!out)
		return disk_fail(d, "unpack the tree into the image");
	free(out);
	return 0;
}

int disk_mkfs_ext4(struct disk *d, const char *dev, const char *fstype, const char *label,
		   const char *uuid)
{
	char seed[37];
	_cleanup_free_ char *seed_src = xasprintf("hash_seed %s", uuid);
	disk_uuid(seed_src, seed);
	/* Inode tables zeroed now (not by a kernel thread at some time), and no
	 * journal yet: its blocks would keep the build's transactions, and
	 * jbd2 holds freed blocks back until a commit, whenever that is;
	 * disk_normalize adds a fresh one at the end. */
	if (guestfs_mke2fs(d->g, dev, GUESTFS_MKE2FS_FSTYPE, fstype, GUESTFS_MKE2FS_LABEL, label,
			   GUESTFS_MKE2FS_UUID, uuid, GUESTFS_MKE2FS_BLOCKSIZE, 4096,
			   GUESTFS_MKE2FS_HASJOURNAL, 0, GUESTFS_MKE2FS_LAZYITABLEINIT, 0, -1) < 0)
		return disk_fail(d, "make the root file system");
	/* libguestfs cannot ask for a directory hash seed; the file system is
	 * empty, so no directory index has used the random one yet. debugfs
	 * runs outside libguestfs's name translation, so it finds the kernel's
	 * name for DEV by the UUID, and the seed is read back (debugfs exits 0
	 * even when it cannot open the device). */
	_cleanup_free_ char *cmd = xasprintf(
		"dev=; for p in /dev/vd?*; do "
		"[ \"$(blkid -p -s UUID -o value $p 2>/dev/null)\" = %s ] && dev=$p; done; "
		"[ -n \"$dev\" ] || { echo 'no partition has the UUID %s'; exit 1; }; "
		"debugfs -w -R 'ssv hash_seed %s' $dev 2>&1; "
		"dumpe2fs -h $dev 2>/dev/null | grep -q '^Directory Hash Seed: *%s$' && echo seed-set",
		uuid, uuid, seed, seed);
	char *const argv[] = {cmd, NULL};
	char *out = guestfs_debug(d->g, "sh", argv);
	if (!out || !strstr(out, "seed-set")) {
		if (out) {
			snprintf(d->err, d->errlen, "set the hash seed of %s: %s", dev, out);
			free(d->text);
			d->text = out;
			return -MK_ERR_GUESTFS;
		}
		return disk_fail(d, "set the hash seed");
	}
	free(out);
	return 0;
}

int disk_part_offset(int fd, int n, uint64_t *off)
{
	unsigned char mbr[512];
	if (pread(fd, mbr, sizeof(mbr), 0) != (ssize_t)sizeof(mbr) || mbr[510] != 0x55 || mbr[511] != 0xaa)
		return -EINVAL;
	const unsigned char *e = mbr + 446 + 16 * (n - 1);
	uint32_t lba = (uint32_t)e[8] | (uint32_t)e[9] << 8 | (uint32_t)e[10] << 16 | (uint32_t)e[11] << 24;
	*off = (uint64_t)lba * 512;
	return lba ? 0 : -ENOENT;
}

static int ext2_fail(char *err, size_t errlen, const char *what, errcode_t e)
{
	snprintf(err, errlen, "%s: %s", what, error_message(e));
	return -MK_ERR_GUESTFS;
}

/* Times the kernel set while the tree went in (change and creation times,
 * access times, directories' mtimes touched after tar set them), and the
 * random inode generations; unused inodes' leftovers. With ONLY_FREE, just
 * the leftovers: without a journal, ext4 does not reuse an inode deleted
 * less than a minute ago (by its dtime), so a disk used again at once would
 * number new files otherwise than one used later. */
static errcode_t normalize_inodes(ext2_filsys fs, time_t t, bool only_free)
{
	size_t isz = EXT2_INODE_SIZE(fs->super);
	_cleanup_free_ struct ext2_inode_large *ino = xcalloc(1, isz);
	_cleanup_free_ unsigned char *zero = xcalloc(1, isz);
	ext2_inode_scan scan;
	ext2_ino_t n;
	errcode_t e = ext2fs_open_inode_scan(fs, 0, &scan);
	if (e)
		return e;
	while ((e = ext2fs_get_next_inode_full(scan, &n, (struct ext2_inode *)ino, (int)isz)) == 0 && n) {
		if (!ext2fs_test_inode_bitmap2(fs->inode_map, n)) {
			if (memcmp(ino, zero, isz) != 0)
				e = ext2fs_write_inode_full(fs, n, (struct ext2_inode *)zero, (int)isz);
			if (e)
				break;
			continue;
		}
		if (only_free)
			continue;
		ino->i_atime = ino->i_ctime = (__u32)t;
		if ((time_t)ino->i_mtime > t)
			ino->i_mtime = (__u32)t;
		ino->i_generation = 0;
		ino->osd1.linux1.l_i_version = 0;
		if (isz > EXT2_GOOD_OLD_INODE_SIZE && ino->i_extra_isize >= 24) {
			ino->i_atime_extra = ino->i_ctime_extra = ino->i_mtime_extra = ino->i_crtime_extra = 0;
			ino->i_crtime = (__u32)t;
			ino->i_version_hi = 0;
		}
		if ((e = ext2fs_write_inode_full(fs, n, (struct ext2_inode *)ino, (int)isz)))
			break;
	}
	ext2fs_close_inode_scan(scan);
	return e;
}

/* Free blocks read as zeros: what was freed (temporary files, ...) is gone. */
static int punch_free_blocks(int fd, uint64_t off, ext2_filsys fs)
{
	blk64_t start = fs->super->s_first_data_block, end = ext2fs_blocks_count(fs->super) - 1, a, b;
	while (start <= end && ext2fs_find_first_zero_block_bitmap2(fs->block_map, start, end, &a) == 0) {
		if (ext2fs_find_first_set_block_bitmap2(fs->block_map, a, end, &b) != 0)
			b = end + 1;
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(off + a * fs->blocksize),
			      (off_t)((b - a) * fs->blocksize)) < 0)
			return -errno;
		start = b;
	}
	return 0;
}

/* The ext4 root file system on partition ROOT_PART of the raw disk RAW,
 * opened read-write with its bitmaps read. *fd (RAW, read-write), *off (the
 * partition's byte offset) and *opts (for ext2fs_open2) are the caller's. */
static int open_root_fs(const char *raw, int root_part, int *fd, uint64_t *off, char **opts,
			ext2_filsys *fs, char *err, size_t errlen)
{
	errcode_t e;
	*fd = open(raw, O_RDWR | O_CLOEXEC);
	if (*fd < 0 || disk_part_offset(*fd, root_part, off) < 0) {
		int rc = *fd < 0 ? -errno : -EINVAL;
		snprintf(err, errlen, "'%s' has no partition %d", raw, root_part);
		return rc;
	}
	*opts = xasprintf("offset=%llu", (unsigned long long)*off);
	*fs = NULL;
	if ((e = ext2fs_open2(raw, *opts, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, fs)))
		return ext2_fail(err, errlen, "open the root file system", e);
	if ((e = ext2fs_read_bitmaps(*fs))) {
		ext2fs_close_free(fs);
		return ext2_fail(err, errlen, "read the root file system's bitmaps", e);
	}
	return 0;
}

/* Removes non-directory PATH (relative to the root) like unlink(2) would,
 * leaving its inode, when freed, zeroed; sets *REMOVED. Missing paths are
 * fine. */
static errcode_t remove_file(ext2_filsys fs, const char *path, bool *removed)
{
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	const char *name = slash ? slash + 1 : dir;
	ext2_ino_t parent = EXT2_ROOT_INO, ino;
	errcode_t e = 0;

	if (slash) {
		*slash = '\0';
		e = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, dir, &parent);
	}
	if (!e)
		e = ext2fs_lookup(fs, parent, name, (int)strlen(name), NULL, &ino);
	if (e == EXT2_ET_FILE_NOT_FOUND || e == EXT2_ET_NO_DIRECTORY)
		return 0;
	if (e)
		return e;

	size_t isz = EXT2_INODE_SIZE(fs->super);
	_cleanup_free_ struct ext2_inode_large *inode = xcalloc(1, isz);
	if ((e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)inode, (int)isz)))
		return e;
	if (LINUX_S_ISDIR(inode->i_mode))
		return 0; /* tar merges into directories */
	if ((e = ext2fs_unlink(fs, parent, name, ino, 0)))
		return e;
	*removed = true;
	if (inode->i_links_count > 1) {
		inode->i_links_count--;
		return ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)inode, (int)isz);
	}
	if (ext2fs_inode_has_valid_blocks2(fs, (struct ext2_inode *)inode) &&
	    (e = ext2fs_punch(fs, ino, (struct ext2_inode *)inode, NULL, 0, ~0ULL)))
		return e;
	blk64_t acl = ext2fs_file_acl_block(fs, (struct ext2_inode *)inode);
	if (acl) {
		__u32 refs = 0;
		if ((e = ext2fs_adjust_ea_refcount3(fs, acl, NULL, -1, &refs, ino)))
			return e;
		if (refs == 0)
			ext2fs_block_alloc_stats2(fs, acl, -1);
	}
	ext2fs_inode_alloc_stats2(fs, ino, -1, 0);
	memset(inode, 0, isz);
	return ext2fs_write_inode_full(fs, ino, (struct ext2_inode *)inode, (int)isz);
}

/*
 * Before the layers' files go onto a copy of the cached disk: every
 * non-directory of the tree TREE that is already there (nftables.conf,
 * files the packages made) is removed here, on the host. The appliance's
 * tar would unlink and recreate each, and ext4 without a journal does not
 * reuse an inode deleted in an earlier clock second for a minute
 * (recently_deleted), so whether the new file got the old inode, and the
 * numbers of the files after it, depended on timing (120 bytes in one CI
 * rebuild). Freed here, the inodes are zeroed (no deletion time) before
 * the kernel sees them, and nothing is deleted while the tree goes in.
 */
int disk_remove_replaced(const char *raw, int root_part, const char *tree, char *err,
			 size_t errlen)
{
	struct archive *a = archive_read_new();
	struct archive_entry *entry;
	struct strv paths = {0};
	int r;

	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, tree, 64 * 1024) != ARCHIVE_OK) {
		snprintf(err, errlen, "cannot read '%s': %s", tree, archive_error_string(a));
		archive_read_free(a);
		return -EIO;
	}
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK) {
		const char *p = archive_entry_pathname(entry);
		while (p[0] == '.' && p[1] == '/')
			p += 2;
		while (*p == '/')
			p++;
		if (*p && archive_entry_filetype(entry) != AE_IFDIR)
			strv_push(&paths, p);
	}
	if (r != ARCHIVE_EOF) {
		snprintf(err, errlen, "cannot read '%s': %s", tree, archive_error_string(a));
		archive_read_free(a);
		strv_release(&paths);
		return -EIO;
	}
	archive_read_free(a);

	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *opts = NULL;
	uint64_t off;
	ext2_filsys fs;
	errcode_t e = 0;
	if ((r = open_root_fs(raw, root_part, &fd, &off, &opts, &fs, err, errlen)) < 0) {
		strv_release(&paths);
		return r;
	}
	size_t removed = 0;
	for (size_t i = 0; i < paths.n && !e; i++) {
		bool gone = false;
		if ((e = remove_file(fs, paths.v[i], &gone)))
			snprintf(err, errlen, "remove '/%s' from the cached disk: %s", paths.v[i],
				 error_message(e));
		removed += gone;
	}
	strv_release(&paths);
	if (!e)
		mk_log_info("  %zu of the cached disk's files are replaced by the layers' files", removed);
	errcode_t e2 = ext2fs_close_free(&fs);
	if (e)
		return -MK_ERR_GUESTFS;
	if (e2)
		return ext2_fail(err, errlen, "write the root file system", e2);
	return 0;
}

int disk_clear_free_inodes(const char *raw, int root_part, char *err, size_t errlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *opts = NULL;
	uint64_t off;
	ext2_filsys fs;
	errcode_t e;
	int r = open_root_fs(raw, root_part, &fd, &off, &opts, &fs, err, errlen);
	if (r < 0)
		return r;
	if ((e = normalize_inodes(fs, 0, true))) {
		ext2fs_close_free(&fs);
		return ext2_fail(err, errlen, "clear the root file system's free inodes", e);
	}
	if ((e = ext2fs_close_free(&fs)))
		return ext2_fail(err, errlen, "write the root file system", e);
	return 0;
}

int disk_normalize(const char *raw, int root_part, const char *uuid, time_t t, char *err,
		   size_t errlen)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *opts = NULL;
	uint64_t off;
	ext2_filsys fs;
	errcode_t e;
	int r = open_root_fs(raw, root_part, &fd, &off, &opts, &fs, err, errlen);

	if (r < 0)
		return r;
	fs->now = t;
	if ((e = normalize_inodes(fs, t, false))) {
		ext2fs_close_free(&fs);
		return ext2_fail(err, errlen, "normalize the root file system's inodes", e);
	}
	struct ext2_super_block *sb = fs->super;
	sb->s_wtime = sb->s_mtime = sb->s_lastcheck = sb->s_mkfs_time = (__u32)t;
	sb->s_mnt_count = 0;
	sb->s_kbytes_written = 0;
	sb->s_state = EXT2_VALID_FS;
	memset(sb->s_last_mounted, 0, sizeof(sb->s_last_mounted));
	ext2fs_mark_super_dirty(fs);
	if (!ext2fs_has_feature_journal(sb)) {
		struct ext2fs_journal_params jp;
		if ((e = ext2fs_get_journal_params(&jp, fs)) ||
		    (e = ext2fs_add_journal_inode3(fs, &jp, ~0ULL, EXT2_MKJOURNAL_NO_MNT_CHECK))) {
			ext2fs_close_free(&fs);
			return ext2_fail(err, errlen, "add the journal", e);
		}
	}
	if ((e = ext2fs_close_free(&fs)))
		return ext2_fail(err, errlen, "write the root file system", e);

	/* The generations changed: tune2fs rewrites every checksum that has
	 * them in its seed (inodes, extent and directory blocks). */
	_cleanup_free_ char *dev = xasprintf("%s?%s", raw, opts);
	_cleanup_free_ char *fake = xasprintf("%lld", (long long)t);
	char *const argv[] = {"tune2fs", "-f", "-U", (char *)uuid, dev, NULL};
	_cleanup_close_ int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	int status = 0;
	setenv("E2FSPROGS_FAKE_TIME", fake, 1);
	r = mk_run(argv, null, &status);
	unsetenv("E2FSPROGS_FAKE_TIME");
	if (r < 0) {
		snprintf(err, errlen, "tune2fs -U failed (exit %d) on '%s'", status, dev);
		return r;
	}

	if ((e = ext2fs_open2(raw, opts, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs)) ||
	    (e = ext2fs_read_block_bitmap(fs))) {
		if (fs)
			ext2fs_close_free(&fs);
		return ext2_fail(err, errlen, "read the root file system", e);
	}
	r = punch_free_blocks(fd, off, fs);
	ext2fs_close_free(&fs);
	if (r < 0)
		snprintf(err, errlen, "cannot punch the free blocks of '%s': %s", raw, strerror(-r));
	return r;
}
