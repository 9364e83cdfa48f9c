/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DigitalOcean custom image: MBR, one ext4 root, grub-pc for BIOS boot
 * (the safe choice there), serial console for DigitalOcean's recovery
 * console and for our boot tests. */
#include <string.h>

#include "target.h"

static void droplet_add_files(const struct recipe *r, struct compose_input *in)
{
	char uuid[37];
	target_root_uuid(r, uuid);
	_cleanup_free_ char *fstab = xasprintf(
		"# mkmesh: the root file system, by the UUID the build gave it\n"
		"UUID=%s / %s errors=remount-ro,discard 0 1\n",
		uuid, r->disk.root_fs);
	compose_add_base_file(in, "etc/fstab", fstab, 0644);
	_cleanup_free_ char *grub = xasprintf(
		"# mkmesh: serial console and a short menu\n"
		"GRUB_TIMEOUT=1\n"
		"GRUB_CMDLINE_LINUX_DEFAULT=\"\"\n"
		"GRUB_CMDLINE_LINUX=\"%s\"\n"
		"GRUB_TERMINAL=\"console serial\"\n"
		"GRUB_SERIAL_COMMAND=\"serial --speed=115200\"\n",
		r->kernel_cmdline ? r->kernel_cmdline : "");
	compose_add_base_file(in, "etc/default/grub.d/50-mkmesh.cfg", grub, 0644);
}

static int droplet_make_disk(struct disk *d, const struct recipe *r)
{
	guestfs_h *g = d->g;
	char uuid[37];
	int rc;

	target_root_uuid(r, uuid);
	if (guestfs_part_init(g, "/dev/sda", "mbr") < 0 ||
	    guestfs_part_add(g, "/dev/sda", "p", 2048, -1) < 0 ||
	    guestfs_part_set_bootable(g, "/dev/sda", 1, 1) < 0)
		return disk_fail(d, "partition the disk");
	if ((rc = disk_mkfs_ext4(d, "/dev/sda1", r->disk.root_fs, r->disk.root_label, uuid)) < 0)
		return rc;
	if (guestfs_mount_options(g, DISK_EXT4_MOUNT_OPTIONS, "/dev/sda1", "/") < 0)
		return disk_fail(d, "mount the root file system");
	mk_log_info("  unpacking the tree into the image");
	if ((rc = disk_tar_in(d, "/")) < 0)
		return rc;
	mk_log_info("  installing grub-pc");
	/* Not "grub-install /dev/sda": that is libguestfs's name for our disk,
	 * translated for its own calls only; the kernel calls it vda (see
	 * disk.c's launch). Ask grub for the disk that holds /boot. Temporary
	 * files go to a tmpfs: a file deleted on the image's file system would
	 * change the inode numbers of what comes after it (see disk_tar_in). */
	static const char *const install[] = {
		"sh", "-c",
		"set -e; mount -t tmpfs mkmesh-tmp /tmp; trap 'umount /tmp' EXIT; "
		"disk=$(grub-probe --target=disk /boot); "
		"echo \"grub-install on $disk, the disk holding /boot\"; "
		"grub-install --target=i386-pc \"$disk\"; update-grub",
		NULL};
	if ((rc = disk_command(d, "install grub in the image", install)) < 0)
		return rc;
	if (guestfs_fstrim(g, "/", -1) < 0)
		return disk_fail(d, "trim the file system");
	if (guestfs_umount_all(g) < 0)
		return disk_fail(d, "unmount");
	/* Last: writing to the disk makes udev read its partitions again. */
	return target_set_disk_id(d, r);
}

/* The layers' files on a copy of the cached disk. */
static int droplet_finish(struct disk *d)
{
	guestfs_h *g = d->g;
	int rc;
	if (guestfs_mount_options(g, DISK_EXT4_MOUNT_OPTIONS, "/dev/sda1", "/") < 0)
		return disk_fail(d, "mount the root file system");
	mk_log_info("  adding the layers' files");
	if ((rc = disk_tar_in(d, "/")) < 0)
		return rc;
	if (guestfs_fstrim(g, "/", -1) < 0)
		return disk_fail(d, "trim the file system");
	if (guestfs_umount_all(g) < 0)
		return disk_fail(d, "unmount");
	return 0;
}

const struct mk_target target_droplet = {
	.kind = "droplet",
	.suffix = ".raw",
	.root_part = 1,
	.add_files = droplet_add_files,
	.make_disk = droplet_make_disk,
	.finish = droplet_finish,
};
