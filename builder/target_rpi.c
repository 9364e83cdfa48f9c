/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * Raspberry Pi 3/4 SD card, Debian's own raspi layout: MBR; p1 FAT32 from
 * 4 MiB to 512 MiB labelled RASPIFIRM, mounted at /boot/firmware; p2 ext4
 * RASPIROOT, grown to the card by cloud-init on first boot.
 *
 * There is no bootloader to install: the Pi's firmware reads p1. What it
 * reads there (config.txt, cmdline.txt, kernel, initrd, device trees) was
 * written by raspi-firmware's hooks inside mmdebstrap, into the tree's
 * boot/firmware, with ROOTPART=LABEL=RASPIROOT from the recipe's setup
 * file. So p1 is mounted at /boot/firmware before the tree is unpacked and
 * those files land on the FAT partition. Nothing runs inside the image:
 * it is arm64, the appliance is not.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "target.h"

#define SECTOR 512ULL
#define FIRMWARE_START (4ULL << 20) /* bytes: 4 MiB, as Debian's raspi images */

static void rpi_add_files(const struct recipe *r, struct compose_input *in)
{
	_cleanup_free_ char *fstab = xasprintf(
		"# mkmesh: the SD card's file systems by label (Debian's raspi layout)\n"
		"LABEL=%s / %s rw,errors=remount-ro 0 1\n"
		"# umask=0077: user-data and mkmesh.json there may hold secrets (a DigitalOcean token)\n"
		"LABEL=%s /boot/firmware vfat rw,umask=0077 0 2\n",
		r->disk.root_label, r->disk.root_fs, r->disk.firmware_label);
	compose_add_file(in, "etc/fstab", fstab, 0644);
	/*
	 * cloud-init from the FAT partition, where Raspberry Pi Imager writes
	 * user-data, meta-data and network-config. NoCloud's own seed
	 * directory is made a link to /boot/firmware just before cloud-init's
	 * first stage, once the partition is mounted (NoCloud's "fs_label" for
	 * another label is deprecated and not seen by ds-identify). NoCloud
	 * alone in the list, so ds-identify keeps cloud-init on without
	 * looking for clouds; None keeps first boot (root grow, host keys)
	 * going when the card has no seed at all.
	 */
	compose_add_file(in, "etc/cloud/cloud.cfg.d/91-mkmesh-rpi.cfg",
			 "# mkmesh (rpi): the NoCloud seed is on the FAT partition (/boot/firmware)\n"
			 "datasource_list: [ NoCloud, None ]\n",
			 0644);
	compose_add_file(in, "etc/systemd/system/cloud-init-local.service.d/50-mkmesh-rpi-seed.conf",
			 "# mkmesh (rpi): NoCloud reads user-data, meta-data and network-config from\n"
			 "# the FAT partition, where Raspberry Pi Imager writes them.\n"
			 "[Unit]\n"
			 "Wants=boot-firmware.mount\n"
			 "After=boot-firmware.mount\n"
			 "\n"
			 "[Service]\n"
			 "ExecStartPre=/bin/sh -c 'mkdir -p /var/lib/cloud/seed && "
			 "ln -sfn /boot/firmware /var/lib/cloud/seed/nocloud'\n",
			 0644);
	/*
	 * The other way to configure a card before its first boot: the site
	 * file dropped onto the FAT partition as mkmesh.json from any computer.
	 * On every boot, before the site file is checked, it is moved to
	 * /etc/mkmesh/site.json (0600), then overwritten on the card and removed
	 * (anyone holding the card can read it, freed clusters included).
	 */
	compose_add_file(in, "usr/lib/mkmesh/rpi-take-site",
			 "#!/bin/sh\n"
			 "# mkmesh (rpi): /boot/firmware/mkmesh.json becomes /etc/mkmesh/site.json (0600).\n"
			 "# The card's copy is overwritten in place before it is removed: FAT frees\n"
			 "# clusters without clearing them, and the file may hold a token.\n"
			 "set -eu\n"
			 "umask 077\n"
			 "card=/boot/firmware/mkmesh.json\n"
			 "mkdir -p /etc/mkmesh\n"
			 "cp \"$card\" /etc/mkmesh/site.json.new\n"
			 "chmod 0600 /etc/mkmesh/site.json.new\n"
			 "sync /etc/mkmesh/site.json.new\n"
			 "mv /etc/mkmesh/site.json.new /etc/mkmesh/site.json\n"
			 "sync /etc/mkmesh\n"
			 "size=$(stat -c %s \"$card\")\n"
			 "[ \"$size\" -eq 0 ] || dd if=/dev/zero of=\"$card\" bs=\"$size\" count=1 conv=notrunc,fsync status=none\n"
			 "rm \"$card\"\n"
			 "sync /boot/firmware\n"
			 "echo \"mkmesh: the site file from the SD card (mkmesh.json) is now /etc/mkmesh/site.json\"\n",
			 0755);
	compose_add_file(in, "etc/systemd/system/mkmesh-rpi-site.service",
			 "[Unit]\n"
			 "Description=mkmesh: take the site file mkmesh.json from the SD card's FAT partition\n"
			 "After=boot-firmware.mount local-fs.target cloud-init-network.service "
			 "cloud-init.service cloud-config.service\n"
			 "Before=mkmesh-site.service\n"
			 "ConditionPathExists=/boot/firmware/mkmesh.json\n"
			 "\n"
			 "[Service]\n"
			 "Type=oneshot\n"
			 "ExecStart=/usr/lib/mkmesh/rpi-take-site\n"
			 "StandardOutput=journal+console\n",
			 0644);
	/* Started on every boot (a drop-in, as the target's own files are not
	 * a layer's units to enable), before the site check when it runs. */
	compose_add_file(in, "etc/systemd/system/multi-user.target.d/50-mkmesh-rpi-site.conf",
			 "# mkmesh (rpi): take mkmesh.json from the FAT partition on every boot\n"
			 "[Unit]\n"
			 "Wants=mkmesh-rpi-site.service\n",
			 0644);
	compose_add_file(in, "etc/systemd/system/mkmesh-site.service.d/50-mkmesh-rpi.conf",
			 "# mkmesh (rpi): a site file dropped onto the FAT partition comes first\n"
			 "[Unit]\n"
			 "Wants=mkmesh-rpi-site.service\n"
			 "After=mkmesh-rpi-site.service\n",
			 0644);
	/*
	 * DHCP on the wired port whenever it shows up. cloud-init writes a
	 * network config only for a NIC that exists during its local stage; the
	 * Pi 3's Ethernet is on USB and can come later (so did the virtio NIC in
	 * our emulated sid boots), and then nothing configured it. networkd
	 * takes the first matching file, so netplan's (10-netplan-*) win when
	 * cloud-init or the user wrote one. Wi-Fi is left to network-config.
	 */
	compose_add_file(in, "etc/systemd/network/90-mkmesh-rpi-wired.network",
			 "# mkmesh (rpi): DHCP on the wired port, whenever it appears\n"
			 "[Match]\n"
			 "Type=ether\n"
			 "Name=eth* en*\n"
			 "\n"
			 "[Network]\n"
			 "DHCP=yes\n",
			 0644);
	compose_add_file(in, "etc/systemd/system/multi-user.target.d/50-mkmesh-rpi-network.conf",
			 "# mkmesh (rpi): networkd runs even when netplan generated nothing\n"
			 "[Unit]\n"
			 "Wants=systemd-networkd.service\n",
			 0644);
}

/*
 * FAT32 made on the host: libguestfs' mkfs cannot ask for FAT32, and
 * mkfs.fat picks FAT16 below 512 MiB. The new file system's data is all in
 * its first MiB or so (boot sectors, FATs, root directory); only that head
 * is uploaded, the rest of the partition is zeros already.
 */
static int make_fat(struct disk *d, const struct recipe *r, const char *tmp, uint64_t size)
{
	char volid[65];
	_cleanup_free_ char *seed = xasprintf("mkmesh:%s:%s:%s:firmware", r->name, r->arch, r->suite);
	_cleanup_free_ char *hidden = xasprintf("%llu", (unsigned long long)(FIRMWARE_START / SECTOR));
	_cleanup_free_ char *logpath = xasprintf("%s.log", tmp);
	int status = 0, rc;

	mk_sha256_hex(seed, strlen(seed), volid);
	volid[8] = '\0';
	_cleanup_close_ int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		snprintf(d->err, d->errlen, "cannot create '%s': %s", tmp, strerror(errno));
		return -errno;
	}
	/* --invariant: fixed times in the new file system; -i: our volume id. */
	char *const argv[] = {"mkfs.fat", "-F", "32", "--invariant", "-i", volid, "-h", hidden,
			      "-n", r->disk.firmware_label, (char *)tmp, NULL};
	_cleanup_close_ int log = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	rc = mk_run(argv, log, &status);
	_cleanup_free_ char *said = NULL;
	if (rc < 0 && mk_read_file(logpath, &said, NULL) == 0)
		said[strcspn(said, "\n")] = '\0';
	unlink(logpath);
	if (rc < 0) {
		snprintf(d->err, d->errlen, "mkfs.fat failed (exit %d) on '%s': %s; is dosfstools "
			 "installed ('make deps')?", status, tmp, said ? said : "");
		return rc;
	}
	/* Cut the file after its last data. */
	off_t pos = 0, end = 0;
	for (;;) {
		off_t data = lseek(fd, pos, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0)
			break;
		end = hole;
		pos = hole;
	}
	if (end == 0 || ftruncate(fd, end) < 0) {
		snprintf(d->err, d->errlen, "mkfs.fat wrote nothing to '%s'", tmp);
		return -EIO;
	}
	if (guestfs_upload_offset(d->g, tmp, "/dev/sda1", 0) < 0)
		return disk_fail(d, "write the FAT file system");
	return 0;
}

/* The firmware partition must hold what the Pi boots; say so at build time
 * rather than on a Pi that shows a rainbow square. */
static int check_firmware(struct disk *d, const struct recipe *r)
{
	static const char *const needed[] = {"/boot/firmware/config.txt", "/boot/firmware/cmdline.txt",
					     "/boot/firmware/bcm2837-rpi-3-b.dtb",
					     "/boot/firmware/bcm2711-rpi-4-b.dtb"};
	for (size_t i = 0; i < ELEMENTSOF(needed); i++)
		if (guestfs_is_file(d->g, needed[i]) != 1) {
			snprintf(d->err, d->errlen,
				 "'%s' is missing on the firmware partition: raspi-firmware did not "
				 "run its hooks (is it in the recipe's packages, with linux-image-arm64?)",
				 needed[i]);
			return -ENOENT;
		}
	char *cmdline = guestfs_cat(d->g, "/boot/firmware/cmdline.txt");
	if (!cmdline)
		return disk_fail(d, "read cmdline.txt");
	_cleanup_free_ char *want = xasprintf("root=LABEL=%s ", r->disk.root_label);
	bool ok = strstr(cmdline, want) != NULL;
	if (!ok) {
		cmdline[strcspn(cmdline, "\n")] = '\0';
		snprintf(d->err, d->errlen,
			 "cmdline.txt on the firmware partition lacks '%s' ('%s'): "
			 "/etc/default/raspi-firmware was not in place when raspi-firmware was "
			 "configured; check the recipe's setup_files",
			 want, cmdline);
	}
	free(cmdline);
	return ok ? 0 : -MK_ERR_RECIPE;
}

/* The root file system at /, the FAT partition at /boot/firmware. */
static int mount_both(struct disk *d)
{
	if (guestfs_mount_options(d->g, DISK_EXT4_MOUNT_OPTIONS, "/dev/sda2", "/") < 0)
		return disk_fail(d, "mount the root file system");
	/* FAT has no owners or modes: "quiet" lets tar's chown and chmod pass. */
	if (guestfs_mkdir_p(d->g, "/boot/firmware") < 0 ||
	    guestfs_mount_options(d->g, "quiet,umask=0022", "/dev/sda1", "/boot/firmware") < 0)
		return disk_fail(d, "mount the firmware partition at /boot/firmware");
	return 0;
}

static int trim_and_unmount(struct disk *d)
{
	if (guestfs_fstrim(d->g, "/boot/firmware", -1) < 0 || guestfs_fstrim(d->g, "/", -1) < 0)
		return disk_fail(d, "trim the file systems");
	if (guestfs_umount_all(d->g) < 0)
		return disk_fail(d, "unmount");
	return 0;
}

static int rpi_make_disk(struct disk *d, const struct recipe *r)
{
	guestfs_h *g = d->g;
	char uuid[37];
	int rc;
	uint64_t fw_first = FIRMWARE_START / SECTOR;
	uint64_t fw_sectors = r->disk.firmware_size / SECTOR;

	if (!r->disk.firmware_size || !r->disk.firmware_label) {
		snprintf(d->err, d->errlen, "%s: disk.firmware_size: an rpi image needs a firmware "
			 "partition (Debian's raspi layout: \"508M\", label \"RASPIFIRM\")", r->file);
		return -MK_ERR_RECIPE;
	}
	if (FIRMWARE_START + r->disk.firmware_size + (256ULL << 20) > r->disk.size) {
		snprintf(d->err, d->errlen, "%s: disk.size: too small for a %llu MiB firmware partition "
			 "and a root file system", r->file,
			 (unsigned long long)(r->disk.firmware_size >> 20));
		return -MK_ERR_RECIPE;
	}
	target_root_uuid(r, uuid);
	if (guestfs_part_init(g, "/dev/sda", "mbr") < 0 ||
	    guestfs_part_add(g, "/dev/sda", "p", (int64_t)fw_first, (int64_t)(fw_first + fw_sectors - 1)) < 0 ||
	    guestfs_part_add(g, "/dev/sda", "p", (int64_t)(fw_first + fw_sectors), -1) < 0 ||
	    guestfs_part_set_mbr_id(g, "/dev/sda", 1, 0x0c) < 0 /* FAT32 (LBA) */ ||
	    guestfs_part_set_mbr_id(g, "/dev/sda", 2, 0x83) < 0)
		return disk_fail(d, "partition the disk");
	if ((rc = target_set_disk_id(d, r)) < 0)
		return rc;

	_cleanup_free_ char *fat = xasprintf("%s.fat", d->path);
	mk_temp_register(fat);
	rc = make_fat(d, r, fat, r->disk.firmware_size);
	unlink(fat);
	mk_temp_forget(fat);
	if (rc < 0)
		return rc;
	if ((rc = disk_mkfs_ext4(d, "/dev/sda2", r->disk.root_fs, r->disk.root_label, uuid)) < 0)
		return rc;
	if ((rc = mount_both(d)) < 0)
		return rc;
	mk_log_info("  unpacking the tree into the image (boot/firmware onto the FAT partition)");
	if ((rc = disk_tar_in(d, "/")) < 0)
		return rc;
	if ((rc = check_firmware(d, r)) < 0)
		return rc;
	return trim_and_unmount(d);
}

/* The layers' files on a copy of the cached disk: both partitions, as a
 * layer may put files on the firmware partition too. */
static int rpi_finish(struct disk *d)
{
	int rc;
	if ((rc = mount_both(d)) < 0)
		return rc;
	mk_log_info("  adding the layers' files");
	if ((rc = disk_tar_in(d, "/")) < 0)
		return rc;
	return trim_and_unmount(d);
}

const struct mk_target target_rpi = {
	.kind = "rpi",
	.suffix = ".img",
	.bmap = true,
	.root_part = 2,
	.fat_part = 1,
	.add_files = rpi_add_files,
	.make_disk = rpi_make_disk,
	.finish = rpi_finish,
};
