/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mkmesh seed: the cloud-init NoCloud seed for a mkmesh image that does not
 * run on DigitalOcean: an ISO labelled "cidata" for a VM (libvirt, QEMU,
 * Proxmox, VirtualBox), or the same files on a Raspberry Pi's FAT partition.
 * Its user-data is byte for byte what `mkmesh deploy` gives a droplet for
 * the same site file and keys: the site file and the keys are read and
 * checked by the same code (site_args.c) and written by site_user_data().
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>

#include "../builder/commands.h"
#include "../builder/util.h"
#include "seed.h"
#include "site.h"
#include "site_args.h"

#define NETWORK_CONFIG_MAX (64 * 1024)

static void seed_usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh seed --site FILE --ssh-key KEY [--hostname H] -o SEED.iso\n"
		"       mkmesh seed --site FILE --ssh-key KEY [--hostname H] --fat DIR\n"
		"\n"
		"Writes the cloud-init NoCloud seed that configures a mkmesh image on its first\n"
		"boot anywhere but DigitalOcean: the site file (docs/site.md, installed as\n"
		"/etc/mkmesh/site.json) and your SSH keys as user-data, the host name as\n"
		"meta-data. The user-data is exactly what 'mkmesh deploy' sends to a droplet for\n"
		"the same site file and keys, and the site file is checked first, as deploy\n"
		"checks it. Nothing is written when a check fails.\n"
		"\n"
		"  -o SEED.iso         an ISO 9660 image labelled 'cidata' (Rock Ridge and Joliet,\n"
		"                      as cloud-localds makes it) for a VM's CD-ROM drive\n"
		"  --fat DIR           the same files (user-data, meta-data) into DIR, the mounted\n"
		"                      FAT partition of a card flashed with the rpi image (where\n"
		"                      Raspberry Pi Imager writes them; the image reads them there)\n"
		"\n"
		"options:\n"
		"  --site FILE         the site file (required)\n"
		"  --ssh-key KEY       a public key file (~/.ssh/id_ed25519.pub) or one key line;\n"
		"                      may be repeated; the image has no password login (required)\n"
		"  --hostname H        the machine's host name (default: mkmesh-DOMAIN with '-'\n"
		"                      for '.', the name 'mkmesh deploy' gives a droplet)\n"
		"  --network-config F  a cloud-init network-config (version 2) to add, e.g. for\n"
		"                      a static address or Wi-Fi; without one the machine uses DHCP\n"
		"  --force             replace an existing SEED.iso or files in DIR\n"
		"  -q, --quiet         print nothing on success\n"
		"  -v, --verbose       say more\n"
		"  -h, --help          this text\n"
		"\n"
		"The seed holds the site file, which may hold a DigitalOcean token: the ISO and\n"
		"the files are written with mode 0600; keep them as you keep the site file.\n"
		"The instance-id in meta-data is derived from the content, so the same inputs\n"
		"give the same seed, and a changed seed is a new instance to cloud-init.\n"
		"\n"
		"examples:\n"
		"  mkmesh seed --site site.json --ssh-key ~/.ssh/id_ed25519.pub -o seed.iso\n"
		"  qemu-img create -f qcow2 -b mkmesh-vm.qcow2 -F qcow2 disk.qcow2 20G\n"
		"  qemu-system-x86_64 -machine q35,accel=kvm -m 2048 -nic user,hostfwd=tcp::2222-:22 \\\n"
		"      -drive file=disk.qcow2,if=virtio -drive file=seed.iso,media=cdrom\n"
		"  ssh -p 2222 debian@localhost mkmesh-status\n"
		"\n"
		"  mkmesh flash rpi images/mkmesh-rpi-*.img.zst /dev/sdX\n"
		"  mount /dev/sdX1 /mnt && mkmesh seed --site site.json \\\n"
		"      --ssh-key ~/.ssh/id_ed25519.pub --hostname mesh-pi --fat /mnt && umount /mnt\n");
}

struct seed {
	const char *site_path, *output, *fat, *hostname, *network_config;
	bool force;
	struct strv keys;
	struct site site;
	char *user_data, *meta_data, *default_name, *netcfg;
	size_t netcfg_len;
};

static void seed_release(struct seed *s)
{
	strv_release(&s->keys);
	site_release(&s->site);
	if (s->user_data) {
		explicit_bzero(s->user_data, strlen(s->user_data));
		free(s->user_data);
	}
	free(s->meta_data);
	free(s->default_name);
	free(s->netcfg);
}

static int seed_args(struct seed *s, int argc, char **argv)
{
	enum { O_SITE = 256, O_KEY, O_HOST, O_FAT, O_NET, O_FORCE };
	static const struct option opts[] = {
		{"site", required_argument, NULL, O_SITE},
		{"ssh-key", required_argument, NULL, O_KEY},
		{"hostname", required_argument, NULL, O_HOST},
		{"output", required_argument, NULL, 'o'},
		{"fat", required_argument, NULL, O_FAT},
		{"network-config", required_argument, NULL, O_NET},
		{"force", no_argument, NULL, O_FORCE},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c, r;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_SITE: s->site_path = optarg; break;
		case O_KEY:
			r = site_args_add_key(&s->keys, optarg);
			if (r == -ENOENT) {
				mk_log_error("cannot read --ssh-key '%s': no such file, and not a public key "
					     "line; give a public key file (~/.ssh/id_ed25519.pub, made by "
					     "'ssh-keygen -t ed25519')", optarg);
				return 2;
			}
			if (r < 0)
				return 2;
			break;
		case O_HOST: s->hostname = optarg; break;
		case 'o': s->output = optarg; break;
		case O_FAT: s->fat = optarg; break;
		case O_NET: s->network_config = optarg; break;
		case O_FORCE: s->force = true; break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h': seed_usage(stdout); return 0;
		default:
			fprintf(stderr, "mkmesh: 'mkmesh seed --help' lists the options\n");
			return 2;
		}
	}
	if (optind < argc) {
		mk_log_error("unexpected argument '%s'; the seed goes to -o FILE or --fat DIR", argv[optind]);
		return 2;
	}
	if (!s->site_path) {
		mk_log_error("missing --site: e.g. 'mkmesh seed --site site.json --ssh-key "
			     "~/.ssh/id_ed25519.pub -o seed.iso'");
		return 2;
	}
	if (!s->keys.n) {
		mk_log_error("missing --ssh-key: the image has no password login, so a machine without "
			     "a key cannot be reached; give ~/.ssh/id_ed25519.pub");
		return 2;
	}
	if (!s->output == !s->fat) {
		mk_log_error("%s: -o SEED.iso for a VM, or --fat DIR for a Pi's mounted FAT partition",
			     s->output ? "give only one of -o and --fat" : "say where the seed goes");
		return 2;
	}
	if (s->hostname && !site_args_hostname_valid(s->hostname)) {
		mk_log_error("--hostname '%s' is not a host name (lower-case letters, digits and '-', "
			     "labels separated by '.', e.g. 'mesh-1')", s->hostname);
		return 2;
	}
	return -1;
}

/* What can be known before the site file is read: the target. */
static int seed_check_target(const struct seed *s)
{
	struct stat st;
	if (s->fat) {
		if (stat(s->fat, &st) < 0) {
			mk_log_error("--fat '%s': %s; mount the card's FAT partition (the first one, "
				     "label RASPIFIRM) and give its mount point", s->fat, strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			mk_log_error("--fat '%s' is not a directory: give the mount point of the card's "
				     "FAT partition (the first one, label RASPIFIRM)", s->fat);
			return 1;
		}
		return 0;
	}
	if (lstat(s->output, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			mk_log_error("-o '%s' is a directory: give the name of the ISO to write, e.g. "
				     "'%s/seed.iso'", s->output, s->output);
			return 1;
		}
		if (!s->force) {
			mk_log_error("'%s' exists: nothing was written; remove it, or give --force to "
				     "replace it", s->output);
			return 1;
		}
	}
	return 0;
}

static int seed_run(struct seed *s)
{
	int r;
	if ((r = seed_check_target(s)))
		return r;
	if (site_args_load(&s->site, s->site_path) < 0)
		return 1;
	if (s->network_config) {
		r = mk_read_regular(AT_FDCWD, s->network_config, 0, NETWORK_CONFIG_MAX, &s->netcfg,
				    &s->netcfg_len);
		if (r < 0) {
			mk_log_error("cannot read --network-config '%s': %s", s->network_config,
				     r == -EFBIG ? "larger than 64 KiB" : mk_strerror(r));
			return 1;
		}
		if (memchr(s->netcfg, '\0', s->netcfg_len)) {
			mk_log_error("--network-config '%s' is not a text file", s->network_config);
			return 1;
		}
	}
	if (!s->hostname)
		s->hostname = s->default_name = site_args_default_name(s->site.domain);
	if (!site_args_hostname_valid(s->hostname)) {
		mk_log_error("the default host name '%s' is too long for a host name: give --hostname",
			     s->hostname);
		return 1;
	}
	s->user_data = site_user_data(&s->site, &s->keys);
	s->meta_data = seed_meta_data(s->user_data, s->hostname);

	struct seed_file files[3] = {
		{"user-data", s->user_data, strlen(s->user_data)},
		{"meta-data", s->meta_data, strlen(s->meta_data)},
		{"network-config", s->netcfg, s->netcfg_len},
	};
	size_t n = s->netcfg ? 3 : 2;
	char err[1024] = "";
	r = s->fat ? seed_write_dir(s->fat, files, n, s->force, err, sizeof(err))
		   : seed_write_iso(s->output, files, n, s->force, err, sizeof(err));
	if (r == -EEXIST) {
		mk_log_error("%s: nothing was written; remove it, or give --force to replace it", err);
		return 1;
	}
	if (r < 0) {
		mk_log_error("cannot write the seed %s'%s': %s; nothing was written%s", s->fat ? "into " : "",
			     s->fat ? s->fat : s->output, err,
			     s->fat ? "" : " (the ISO's files are spooled in $TMPDIR, or /tmp: is it writable?)");
		return 1;
	}
	if (mk_verbosity > 0) {
		printf("%s%s: NoCloud seed for host '%s': user-data (%zu bytes: the site file for %s, "
		       "%zu SSH key%s), meta-data%s\n",
		       s->fat ? s->fat : s->output, s->fat ? "/" : " (ISO 9660, label " SEED_VOLUME_ID ")",
		       s->hostname, strlen(s->user_data), s->site.domain, s->keys.n,
		       s->keys.n == 1 ? "" : "s", s->netcfg ? ", network-config" : "");
		if (!s->fat)
			printf("next: attach it as a CD-ROM, e.g. qemu '-drive file=%s,media=cdrom'\n",
			       s->output);
		else
			printf("next: unmount the card, put it in the Pi and boot it\n");
	}
	return 0;
}

int cmd_seed(int argc, char **argv)
{
	struct seed s = {0};
	int r = seed_args(&s, argc, argv);
	if (r < 0)
		r = seed_run(&s);
	seed_release(&s);
	return r;
}
