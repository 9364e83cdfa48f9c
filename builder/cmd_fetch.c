/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh fetch TARGET --dest DIR: everything a build of TARGET downloads
 * (besides Debian packages), verified and copied to DIR under the names of
 * its URLs, so that a machine without the Internet can build with
 * --artifacts DIR. */
#include <getopt.h>
#include <string.h>

#include "artifacts.h"
#include "commands.h"
#include "options.h"
#include "recipe.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh fetch TARGET --dest DIR [--suite S] [--with L] [--without L] [--recipes DIR]\n"
		"                   [--cache DIR]\n"
		"\n"
		"Downloads every file the layers of TARGET need (release tarballs, signatures,\n"
		"apt source keys), checks each against its pinned sha256, signature key or\n"
		"fingerprint, and copies them to DIR. On a machine without the Internet:\n"
		"  mkmesh build TARGET --artifacts DIR\n"
		"Debian packages are not included: they come from the mirror (--mirror).\n");
}

static const char *base_name(const char *url)
{
	const char *s = strrchr(url, '/');
	return s ? s + 1 : url;
}

static int put(const char *src, const char *dir, const char *url)
{
	_cleanup_free_ char *dest = xasprintf("%s/%s", dir, base_name(url));
	_cleanup_free_ char *data = NULL;
	size_t len;
	int r = mk_read_file(src, &data, &len);
	if (r == 0)
		r = mk_write_file_atomic(dest, data, len, 0644);
	if (r < 0)
		mk_log_error("cannot write '%s': %s", dest, strerror(-r));
	else
		printf("%s\n", dest);
	return r;
}

int cmd_fetch(int argc, char **argv)
{
	struct build_options o;
	_cleanup_free_ char *dest = NULL;
	char err[4096];

	/* --dest is ours; the rest are the build's options. */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dest") && i + 1 < argc) {
			free(dest);
			dest = xstrdup(argv[i + 1]);
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 2) * sizeof(char *));
			argc -= 2;
			i--;
		} else if (!strncmp(argv[i], "--dest=", 7)) {
			free(dest);
			dest = xstrdup(argv[i] + 7);
			memmove(&argv[i], &argv[i + 1], (size_t)(argc - i - 1) * sizeof(char *));
			argc--;
			i--;
		}
	}
	int rc = build_options_parse(&o, argc, argv, usage);
	if (rc != -1)
		return rc;
	if (optind + 1 != argc || !dest || o.from_manifest) {
		if (o.from_manifest)
			fprintf(stderr, "mkmesh: --from-manifest is for 'mkmesh build'\n");
		usage(stderr);
		build_options_release(&o);
		return 2;
	}
	struct recipe *r = NULL;
	struct recipe_options ro = {.suite = o.suite, .with = &o.with, .without = &o.without,
				    .check_valid_until = -1};
	rc = recipe_load(o.recipes, argv[optind], &ro, &r, err, sizeof(err));
	if (rc < 0) {
		mk_log_error("%s", err);
		build_options_release(&o);
		return 2;
	}
	struct artifacts dl;
	rc = artifacts_fetch(r, o.cache, o.artifacts, &dl, err, sizeof(err));
	if (rc < 0)
		mk_log_error("%s", err);
	else if ((rc = mk_mkdir_p(dest, 0755)) < 0)
		mk_log_error("cannot create '%s': %s", dest, strerror(-rc));
	for (size_t i = 0; rc == 0 && i < dl.n_files; i++) {
		const struct artifact_file *f = &dl.files[i];
		rc = put(f->path, dest, f->artifact->url);
		if (rc == 0 && f->sig_path)
			rc = put(f->sig_path, dest, f->artifact->sig_url);
		if (rc == 0 && f->artifact->sig_key_url)
			rc = put(f->sig_key, dest, f->artifact->sig_key_url);
	}
	for (size_t i = 0; rc == 0 && i < dl.n_keys; i++)
		rc = put(dl.keys[i].fetched, dest, dl.keys[i].source->key_url);
	if (rc == 0)
		mk_log_info("%zu artifacts and %zu apt keys of '%s' are in '%s'; build with --artifacts %s",
			    dl.n_files, dl.n_keys, r->name, dest, dest);
	artifacts_release(&dl);
	recipe_free(r);
	build_options_release(&o);
	return rc < 0 ? 1 : 0;
}
