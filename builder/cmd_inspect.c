/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh inspect IMAGE: what an image contains, from the manifest written
 * beside it, checked against the image's own hash (in both the text and
 * the JSON output). Both files may come from a download: they must be
 * regular files, the manifest at most 16 MiB. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>

#include "commands.h"
#include "util.h"

#define MANIFEST_MAX (16u << 20) /* the full images' manifests are well under 1 MiB */

static void usage(FILE *f)
{
	fprintf(f, "usage: mkmesh inspect [--packages] [--json] [--no-verify] IMAGE|MANIFEST\n"
		   "\n"
		   "Shows an image's target, version, layers, artifacts and package count from\n"
		   "its manifest (IMAGE with .manifest.json in place of .raw.gz / .img.zst), after\n"
		   "checking that the image's sha256 matches the manifest.\n"
		   "\n"
		   "  --packages   list every package with its version\n"
		   "  --json       print the manifest, with the result of the check added as\n"
		   "               \"verification\": {\"image\", \"checked\", \"matches\", \"sha256\",\n"
		   "               \"manifest_sha256\"} (or \"reason\" / \"error\" when not checked)\n"
		   "  --no-verify  skip hashing the image (it can be large)\n"
		   "\n"
		   "The exit code is 1 when the image does not match its manifest or cannot be\n"
		   "read, with --json too.\n");
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
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = mk_read_regular(AT_FDCWD, mpath, 0, MANIFEST_MAX, &text, &len);
	if (r < 0) {
		mk_log_error("cannot read the manifest '%s': %s", mpath,
			     r == -EFBIG ? "it is larger than 16 MiB, so not a manifest 'mkmesh build' wrote"
					 : mk_strerror(r));
		return 1;
	}
	json_error_t je;
	json_auto_t *m = json_loadb(text, len, 0, &je);
	if (!m) {
		mk_log_error("cannot read the manifest '%s': line %d: %s", mpath, je.line, je.text);
		return 1;
	}
	if (!json_is_object(m)) {
		mk_log_error("'%s' is not a JSON object, so not a manifest made by 'mkmesh build'", mpath);
		return 1;
	}
	const char *file = json_string_value(json_object_get(json_object_get(m, "image"), "file"));
	const char *want = json_string_value(json_object_get(json_object_get(m, "image"), "sha256"));

	/* The check, the same for both outputs: a regular file (a FIFO or a
	 * device would hang or never end), hashed whole. */
	bool checked = false, matches = false;
	char got[65] = "", why[256] = "";
	const char *reason = !verify ? "--no-verify" : !strcmp(image, mpath) ? "given the manifest, not the image" : NULL;
	if (!reason) {
		_cleanup_close_ int fd = mk_open_regular(AT_FDCWD, image, 0, NULL);
		r = fd < 0 ? fd : mk_sha256_fd(fd, got, NULL);
		if (r < 0)
			snprintf(why, sizeof(why), "cannot read '%s': %s", image, mk_strerror(r));
		checked = r == 0;
		matches = checked && want && !strcmp(got, want);
	}
	int rc = why[0] || (checked && !matches) ? 1 : 0;
	if (why[0])
		mk_log_error("%s", why);
	else if (checked && !matches)
		mk_log_error("'%s' does not match its manifest: sha256 %s, manifest says %s", image, got,
			     want ? want : "nothing");

	if (as_json) {
		/* Set by us, so a manifest cannot bring its own. */
		json_t *res = json_pack("{s:s, s:b}", "image", image, "checked", checked);
		if (checked) {
			json_object_set_new(res, "matches", json_boolean(matches));
			json_object_set_new(res, "sha256", json_string(got));
			json_object_set_new(res, "manifest_sha256", want ? json_string(want) : json_null());
		} else
			json_object_set_new(res, why[0] ? "error" : "reason", json_string(why[0] ? why : reason));
		json_object_set_new(m, "verification", res);
		json_dumpf(m, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
		putchar('\n');
		return rc;
	}
#define STR(v) (json_string_value(v) ? json_string_value(v) : "?")
	printf("image:    %s\n", file ? file : "?");
	printf("target:   %s %s (%s, Debian %s)\n", STR(json_object_get(m, "target")),
	       STR(json_object_get(m, "version")), STR(json_object_get(m, "arch")),
	       STR(json_object_get(m, "suite")));
	printf("built by: %s\n", STR(json_object_get(m, "built_by")));
	json_t *v;
	size_t i;
	printf("layers:  ");
	json_array_foreach(json_object_get(m, "layers"), i, v)
		printf(" %s", STR(json_object_get(v, "name")));
	printf("\nartifacts:\n");
	json_array_foreach(json_object_get(m, "artifacts"), i, v)
		printf("  %s (%s): %s\n", STR(json_object_get(v, "name")), STR(json_object_get(v, "layer")),
		       STR(json_object_get(v, "sha256")));
	printf("packages: %zu\n", json_array_size(json_object_get(m, "packages")));
	if (packages)
		json_array_foreach(json_object_get(m, "packages"), i, v)
			printf("  %s %s\n", STR(json_object_get(v, "name")), STR(json_object_get(v, "version")));
#undef STR
	if (matches)
		printf("sha256:   %s (matches the manifest)\n", got);
	return rc;
}
