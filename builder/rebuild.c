/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rebuild.h"

#include <string.h>

#include "grammar.h"

static int bad(char *err, size_t errlen, const char *file, const char *path, const char *what)
{
	snprintf(err, errlen, "%s: %s: %s", file, path, what);
	return -MK_ERR_RECIPE;
}

typedef const char *grammar_fn(const char *);

/* O.KEY, a string of grammar G; PREFIX is the JSON path of O ("" at the top). */
static int get_str(json_t *o, const char *key, grammar_fn *g, char **out, const char *file,
		   const char *prefix, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("%s%s%s", prefix, *prefix ? "." : "", key);
	json_t *v = json_object_get(o, key);
	if (!json_is_string(v) || !*json_string_value(v))
		return bad(err, errlen, file, path, "missing or not a string; is this a manifest made by 'mkmesh build'?");
	/* Checked here, before any work: these values become file names,
	 * URLs, apt preferences and arguments of the build's tools. */
	const char *why = g(json_string_value(v));
	if (why)
		return bad(err, errlen, file, path, why);
	*out = xstrdup(json_string_value(v));
	return 0;
}

static const char *grammar_compression(const char *s)
{
	return !strcmp(s, "gzip") || !strcmp(s, "zstd") || !strcmp(s, "xz") ? NULL
									     : "not one of gzip, zstd, xz";
}

static int cmp_pkg(const void *a, const void *b)
{
	return strcmp(((const struct compose_package *)a)->name, ((const struct compose_package *)b)->name);
}

int rebuild_load(const char *path, struct rebuild *rb, char *err, size_t errlen)
{
	json_error_t je;
	char p[64];
	int r;

	*rb = (struct rebuild){.file = xstrdup(path)};
	json_t *m = mk_json_load_regular(path, 16 << 20, 0, &je);
	if (!m) {
		if (je.line < 0)
			snprintf(err, errlen, "%s: cannot read: %s", path, je.text);
		else
			snprintf(err, errlen, "%s:%d: %s", path, je.line, je.text);
		return -MK_ERR_RECIPE;
	}
	json_t *sde = json_object_get(m, "source_date_epoch"), *image = json_object_get(m, "image");
	json_t *layers = json_object_get(m, "layers"), *pkgs = json_object_get(m, "packages");
	json_t *arts = json_object_get(m, "artifacts");
	if ((r = get_str(m, "target", grammar_name, &rb->target, path, "", err, errlen)) < 0 ||
	    (r = get_str(m, "arch", grammar_debian_arch, &rb->arch, path, "", err, errlen)) < 0 ||
	    (r = get_str(m, "suite", grammar_debian_suite, &rb->suite, path, "", err, errlen)) < 0 ||
	    (r = get_str(m, "mirror", grammar_http_url, &rb->mirror, path, "", err, errlen)) < 0 ||
	    (r = get_str(m, "version", grammar_image_version, &rb->version, path, "", err, errlen)) < 0)
		goto out;
	r = -MK_ERR_RECIPE;
	if (!json_is_integer(sde) || json_integer_value(sde) <= 0 ||
	    json_integer_value(sde) > 253402300799LL) {
		bad(err, errlen, path, "source_date_epoch",
		    "missing or not a positive integer up to 253402300799 (the year 9999)");
		goto out;
	}
	rb->source_date_epoch = (time_t)json_integer_value(sde);
	if (!json_is_object(image)) {
		bad(err, errlen, path, "image", "missing or not an object");
		goto out;
	}
	if ((r = get_str(image, "compression", grammar_compression, &rb->compress, path, "image", err, errlen)) < 0 ||
	    (r = get_str(image, "sha256", grammar_sha256, &rb->image_sha256, path, "image", err, errlen)) < 0)
		goto out;
	r = -MK_ERR_RECIPE;
	if (!json_is_array(layers) || json_array_size(layers) == 0) {
		bad(err, errlen, path, "layers", "missing or empty");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(layers); i++) {
		char *name = NULL;
		snprintf(p, sizeof(p), "layers[%zu]", i);
		if ((r = get_str(json_array_get(layers, i), "name", grammar_name, &name, path, p, err, errlen)) < 0)
			goto out;
		strv_push_take(&rb->layers, name);
	}
	r = -MK_ERR_RECIPE;
	if (!json_is_array(pkgs) || json_array_size(pkgs) == 0) {
		bad(err, errlen, path, "packages", "missing or empty");
		goto out;
	}
	rb->packages = xcalloc(json_array_size(pkgs), sizeof(*rb->packages));
	for (size_t i = 0; i < json_array_size(pkgs); i++) {
		json_t *e = json_array_get(pkgs, i);
		struct compose_package *pk = &rb->packages[rb->n_packages++];
		snprintf(p, sizeof(p), "packages[%zu]", i);
		/* They become apt preferences and apt-get's arguments. */
		if ((r = get_str(e, "name", grammar_debian_package, &pk->name, path, p, err, errlen)) < 0 ||
		    (r = get_str(e, "version", grammar_debian_version, &pk->version, path, p, err, errlen)) < 0)
			goto out;
		if (json_object_get(e, "arch")) {
			if ((r = get_str(e, "arch", grammar_debian_arch, &pk->arch, path, p, err, errlen)) < 0)
				goto out;
		} else {
			pk->arch = xstrdup("all");
		}
	}
	qsort(rb->packages, rb->n_packages, sizeof(*rb->packages), cmp_pkg);
	if (arts && !json_is_array(arts)) {
		bad(err, errlen, path, "artifacts", "not an array");
		goto out;
	}
	rb->artifacts = xcalloc(json_array_size(arts) + 1, sizeof(*rb->artifacts));
	for (size_t i = 0; i < json_array_size(arts); i++) {
		json_t *e = json_array_get(arts, i);
		struct rebuild_artifact *a = &rb->artifacts[rb->n_artifacts++];
		snprintf(p, sizeof(p), "artifacts[%zu]", i);
		if (!json_is_object(e)) {
			bad(err, errlen, path, p, "not an object with layer, name, url and sha256");
			r = -MK_ERR_RECIPE;
			goto out;
		}
		if ((r = get_str(e, "layer", grammar_name, &a->layer, path, p, err, errlen)) < 0 ||
		    (r = get_str(e, "name", grammar_file_name, &a->name, path, p, err, errlen)) < 0 ||
		    (r = get_str(e, "url", grammar_http_url, &a->url, path, p, err, errlen)) < 0 ||
		    (r = get_str(e, "sha256", grammar_sha256, &a->sha256, path, p, err, errlen)) < 0)
			goto out;
	}
	r = 0;
out:
	json_decref(m);
	return r;
}

void rebuild_release(struct rebuild *rb)
{
	free(rb->file), free(rb->target), free(rb->arch), free(rb->suite), free(rb->mirror);
	free(rb->version), free(rb->compress), free(rb->image_sha256);
	strv_release(&rb->layers);
	for (size_t i = 0; i < rb->n_packages; i++)
		free(rb->packages[i].name), free(rb->packages[i].version), free(rb->packages[i].arch);
	free(rb->packages);
	for (size_t i = 0; i < rb->n_artifacts; i++) {
		struct rebuild_artifact *a = &rb->artifacts[i];
		free(a->layer), free(a->name), free(a->url), free(a->sha256);
	}
	free(rb->artifacts);
	*rb = (struct rebuild){0};
}

int rebuild_layer_options(const struct rebuild *rb, const struct recipe *r, struct strv *with,
			  struct strv *without, char *err, size_t errlen)
{
	if (strcmp(rb->target, r->name) != 0) {
		snprintf(err, errlen,
			 "%s is the manifest of a '%s' image, not of a '%s' one; rebuild it with "
			 "'mkmesh build %s --from-manifest %s'",
			 rb->file, rb->target, r->name, rb->target, rb->file);
		return -MK_ERR_USAGE;
	}
	if (strcmp(rb->arch, r->arch) != 0) {
		snprintf(err, errlen, "%s is the manifest of an %s image; target '%s' (%s) builds %s only",
			 rb->file, rb->arch, r->name, r->file, r->arch);
		return -MK_ERR_USAGE;
	}
	for (size_t i = 0; i < rb->layers.n; i++) {
		if (!strv_contains(&r->default_layers, rb->layers.v[i]) &&
		    !strv_contains(&r->optional_layers, rb->layers.v[i]))
			continue; /* a dependency: resolving pulls it in again */
		strv_push(with, rb->layers.v[i]);
	}
	for (size_t i = 0; i < r->default_layers.n; i++)
		if (!strv_contains(&rb->layers, r->default_layers.v[i]))
			strv_push(without, r->default_layers.v[i]);
	for (size_t i = 0; i < r->optional_layers.n; i++)
		if (!strv_contains(&rb->layers, r->optional_layers.v[i]))
			strv_push(without, r->optional_layers.v[i]);
	return 0;
}

static const struct rebuild_artifact *find_artifact(const struct rebuild *rb, const char *layer,
						     const char *name)
{
	for (size_t i = 0; i < rb->n_artifacts; i++)
		if (!strcmp(rb->artifacts[i].layer, layer) && !strcmp(rb->artifacts[i].name, name))
			return &rb->artifacts[i];
	return NULL;
}

int rebuild_pin_recipe(const struct rebuild *rb, struct recipe *r, char *err, size_t errlen)
{
	struct strv have = {0};
	size_t n_art = 0;
	for (size_t i = 0; i < r->n_layers; i++)
		strv_push(&have, r->layers[i]->name);
	for (size_t i = 0; i < rb->layers.n || i < have.n; i++) {
		const char *missing = i < rb->layers.n && !strv_contains(&have, rb->layers.v[i]) ? rb->layers.v[i] : NULL;
		const char *extra = i < have.n && !strv_contains(&rb->layers, have.v[i]) ? have.v[i] : NULL;
		if (missing || extra) {
			snprintf(err, errlen, "%s: layers: the recipes in '%s' %s layer '%s'; rebuild from the "
				 "recipes of the version that made the image",
				 rb->file, r->dir, missing ? "have no" : "add a", missing ? missing : extra);
			strv_release(&have);
			return -MK_ERR_RECIPE;
		}
	}
	strv_release(&have);
	/* The manifest's artifacts, by the hashes it gives; the recipe may
	 * not add or drop one. */
	for (size_t i = 0; i < r->n_layers; i++) {
		struct recipe_layer *l = r->layers[i];
		for (size_t j = 0; j < l->n_artifacts; j++, n_art++) {
			struct recipe_artifact *a = &l->artifacts[j];
			const struct rebuild_artifact *m = find_artifact(rb, l->name, a->name);
			if (!m) {
				snprintf(err, errlen, "%s: artifacts: no '%s' of layer '%s', which the recipe "
					 "'%s' downloads; rebuild from the recipes of the version that made the image",
					 rb->file, a->name, l->name, l->file);
				return -MK_ERR_RECIPE;
			}
			if (!a->sha256)
				mk_log_info("  artifact '%s' of layer '%s': the manifest's %.12s… (the recipe "
					    "pins none; its signature is checked too)", a->name, l->name, m->sha256);
			else if (strcmp(a->sha256, m->sha256) != 0)
				mk_log_info("  artifact '%s' of layer '%s': the manifest's %.12s…, not the recipe's %.12s…",
					    a->name, l->name, m->sha256, a->sha256);
			free(a->sha256);
			free(a->url);
			a->sha256 = xstrdup(m->sha256);
			a->url = xstrdup(m->url);
		}
	}
	if (n_art != rb->n_artifacts) {
		snprintf(err, errlen, "%s: artifacts: %zu listed, the recipes download %zu; rebuild from the "
			 "recipes of the version that made the image", rb->file, rb->n_artifacts, n_art);
		return -MK_ERR_RECIPE;
	}
	strv_release(&r->pins);
	for (size_t i = 0; i < rb->n_packages; i++)
		strv_push_take(&r->pins, xasprintf("%s=%s", rb->packages[i].name, rb->packages[i].version));
	return 0;
}

int rebuild_check_packages(const struct rebuild *rb, const struct compose_package *pkgs, size_t n,
			   const char *mirror, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0, i = 0, j = 0, n_diff = 0;
	FILE *f = open_memstream(&text, &len);
	/* Both sorted by name: one merge pass. */
	while (i < rb->n_packages || j < n) {
		int c = i == rb->n_packages ? 1 : j == n ? -1 : strcmp(rb->packages[i].name, pkgs[j].name);
		if (c < 0) {
			if (n_diff++ < 20)
				fprintf(f, "\n  %s %s: not installed", rb->packages[i].name, rb->packages[i].version);
			i++;
		} else if (c > 0) {
			if (n_diff++ < 20)
				fprintf(f, "\n  %s %s: installed, not in the manifest", pkgs[j].name, pkgs[j].version);
			j++;
		} else {
			if (strcmp(rb->packages[i].version, pkgs[j].version) != 0 && n_diff++ < 20)
				fprintf(f, "\n  %s: the manifest has %s, the mirror gave %s", pkgs[j].name,
					rb->packages[i].version, pkgs[j].version);
			i++, j++;
		}
	}
	if (n_diff > 20)
		fprintf(f, "\n  ... and %zu more", n_diff - 20);
	fclose(f);
	if (n_diff == 0) {
		free(text);
		return 0;
	}
	_cleanup_free_ char *hint = rebuild_snapshot_hint(rb);
	snprintf(err, errlen, "the packages from '%s' are not the ones %s lists (%zu differ):%s\n%s",
		 mirror, rb->file, n_diff, text, hint);
	free(text);
	return -MK_ERR_CHECKSUM;
}

char *rebuild_snapshot_hint(const struct rebuild *rb)
{
	char stamp[32];
	struct tm tm;
	if (!gmtime_r(&rb->source_date_epoch, &tm) ||
	    !strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm))
		snprintf(stamp, sizeof(stamp), "YYYYMMDDTHHMMSSZ");
	return xasprintf("  older versions are on snapshot.debian.org: rebuild with the archive as it was when\n"
			 "  the image was built (after %s, its SOURCE_DATE_EPOCH), e.g.\n"
			 "    --mirror https://snapshot.debian.org/archive/debian/%s/ --no-check-valid-until\n"
			 "  (https://snapshot.debian.org/binary/NAME/ shows when a version was in the archive)",
			 stamp, stamp);
}
