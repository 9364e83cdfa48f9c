/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh inspect IMAGE: what an image contains, from the manifest written
 * beside it, checked against the image's own hash. */
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "commands.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mkmesh inspect [--packages] [--json] [--no-verify] IMAGE|MANIFEST\n"
		   "\n"
		   "Shows an image's target, version, layers, artifacts and package count from\n"
		   "its manifest (IMAGE with .manifest.json in place of .raw.gz / .img.zst), after\n"
		   "checking that the image's sha256 matches the manifest.\n"
		   "\n"
		   "  --packages   list every package with its version\n"
		   "  --json       print the manifest itself\n"
		   "  --no-verify  skip hashing the image (it can be large)\n");
}

/* images/mkmesh-droplet-1.0-amd64.raw.gz -> ...-amd64.manifest.json */
static char *manifest_path(const char *image)
{
	static const char *const suffixes[] = {".raw.gz", ".raw.zst", ".img.zst", ".img.xz", ".img.gz",
					       ".raw", ".img"};
	size_t n = strlen(image);
	if (n > 14 && !strcmp(image + n - 14, ".manifest.json"))
		return xstrdup(image);
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		size_t s = strlen(suffixes[i]);
		if (n > s && !strcmp(image + n - s, suffixes[i]))
			return xasprintf("%.*s.manifest.json", (int)(n - s), image);
	}
	return NULL;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {{"packages", no_argument, NULL, 'p'},
					     {"json", no_argument, NULL, 'j'},
					     {"no-verify", no_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	bool packages = false, as_json = false, verify = true;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': packages = true; break;
		case 'j': as_json = true; break;
		case 'n': verify = false; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	const char *image = argv[optind];
	_cleanup_free_ char *mpath = manifest_path(image);
	if (!mpath) {
		mk_log_error("'%s' is not named like an mkmesh image (.raw.gz, .img.zst, ...)", image);
		return 2;
	}
	json_error_t je;
	json_auto_t *m = json_load_file(mpath, 0, &je);
	if (!m) {
		mk_log_error("cannot read the manifest '%s': %s", mpath, je.text);
		return 1;
	}
	if (as_json) {
		json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		return 0;
	}
	const char *file = json_string_value(json_object_get(json_object_get(m, "image"), "file"));
	const char *want = json_string_value(json_object_get(json_object_get(m, "image"), "sha256"));
	printf("image:    %s\n", file ? file : "?");
	printf("target:   %s %s (%s, Debian %s)\n", json_string_value(json_object_get(m, "target")),
	       json_string_value(json_object_get(m, "version")), json_string_value(json_object_get(m, "arch")),
	       json_string_value(json_object_get(m, "suite")));
	printf("built by: %s\n", json_string_value(json_object_get(m, "built_by")));
	json_t *v;
	size_t i;
	printf("layers:  ");
	json_array_foreach(json_object_get(m, "layers"), i, v)
		printf(" %s", json_string_value(json_object_get(v, "name")));
	printf("\nartifacts:\n");
	json_array_foreach(json_object_get(m, "artifacts"), i, v)
		printf("  %s (%s): %s\n", json_string_value(json_object_get(v, "name")),
		       json_string_value(json_object_get(v, "layer")),
		       json_string_value(json_object_get(v, "sha256")));
	printf("packages: %zu\n", json_array_size(json_object_get(m, "packages")));
	if (packages)
		json_array_foreach(json_object_get(m, "packages"), i, v)
			printf("  %s %s\n", json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "version")));
	if (verify && strcmp(image, mpath) != 0) {
		char got[65];
		int r = mk_sha256_file(image, got, NULL);
		if (r < 0) {
			mk_log_error("cannot read '%s': %s", image, strerror(-r));
			return 1;
		}
		if (!want || strcmp(got, want) != 0) {
			mk_log_error("'%s' does not match its manifest: sha256 %s, manifest says %s", image,
				     got, want ? want : "nothing");
			return 1;
		}
		printf("sha256:   %s (matches the manifest)\n", got);
	}
	return 0;
}
