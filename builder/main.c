/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh: immutable images for community mesh networks. The command table. */
#include <getopt.h>
#include <locale.h>
#include <string.h>

#include "commands.h"
#include "util.h"

struct mk_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct mk_command commands[] = {
	{"build", cmd_build, "build an image for a target (droplet, rpi)"},
	{"fetch", cmd_fetch, "download what a build needs, for building offline"},
	{"list", cmd_list, "show targets and layers"},
	{"inspect", cmd_inspect, "show what an image contains, from its manifest"},
	{"verify", cmd_verify, "check a release directory: signature, sums, manifests, SBOMs"},
	{"upload", cmd_upload, "upload a droplet image to DigitalOcean as a custom image"},
	{"flash", cmd_flash, "write an rpi image to an SD card, checked block by block"},
	{"deploy", cmd_deploy, "create a droplet from the uploaded image, with its DNS records"},
	{"destroy", cmd_destroy, "delete a droplet and exactly the DNS records that point at it"},
	{"seed", cmd_seed, "write the cloud-init seed (ISO or Pi FAT files) for a VM or Pi"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh [--version] [--help] COMMAND [ARGS]\n"
		"\n"
		"mkmesh builds immutable disk images with the services a community mesh\n"
		"network runs (cjdns, Matrix/Synapse, Element, nginx), configured on first boot.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"'mkmesh COMMAND --help' explains a command. A typical session:\n"
		"  mkmesh list                    # what can be built\n"
		"  mkmesh build droplet           # images/mkmesh-droplet-<ver>-amd64.raw.gz\n"
		"  mkmesh inspect images/mkmesh-droplet-*.raw.gz\n");
}

int main(int argc, char **argv)
{
	/* File names in Debian are UTF-8; libarchive converts through the
	 * locale, and the C locale cannot hold them. */
	if (!setlocale(LC_CTYPE, "C.UTF-8"))
		setlocale(LC_CTYPE, "");
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			char *sub[] = {argv[2], (char *)"--help", NULL};
			for (size_t i = 0; i < ELEMENTSOF(commands); i++)
				if (!strcmp(commands[i].name, argv[2]))
					return commands[i].run(2, sub);
		}
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mkmesh %s\n", MKMESH_VERSION);
		return 0;
	}
	char err[256];
	if (mk_env_check(err, sizeof(err)) < 0) {
		mk_log_error("%s", err);
		return 2;
	}
	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (strcmp(commands[i].name, argv[1]) == 0) {
			mk_signals_install();
			optind = 1;
			return commands[i].run(argc - 1, argv + 1);
		}
	}
	mk_log_error("unknown command '%s'; 'mkmesh --help' lists the commands", argv[1]);
	return 2;
}
