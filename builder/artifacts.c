/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "artifacts.h"

#include <string.h>
#include <sys/stat.h>

#include "fetch.h"

/* What failed, one line per download, and the layers to leave out: the
 * build tries every download before it says, so one run names them all. */
struct failures {
	char *text;
	size_t len;
	FILE *f;
	size_t n;
	struct strv layers; /* optional layers with a failed download */
	bool required;      /* a layer that cannot be left out failed */
	int first_rc;
};

static void failed(struct failures *fl, const struct recipe_layer *l, const char *what,
		   const char *msg, int rc)
{
	if (!fl->f)
		fl->f = open_memstream(&fl->text, &fl->len);
	fprintf(fl->f, "%slayer '%s': %s: %s", fl->n ? "\n  " : "", l->name, what, msg);
	if (!fl->n++)
		fl->first_rc = rc;
	if (!l->optional)
		fl->required = true;
	else if (!strv_contains(&fl->layers, l->name))
		strv_push(&fl->layers, l->name);
}

static int failures_report(struct failures *fl, const struct recipe *r, char *err, size_t errlen)
{
	if (!fl->n)
		return 0;
	fclose(fl->f);
	_cleanup_free_ char *without = NULL;
	if (fl->layers.n && !fl->required) {
		FILE *w = open_memstream(&without, &(size_t){0});
		for (size_t i = 0; i < fl->layers.n; i++)
			fprintf(w, "%s%s", i ? "," : "", fl->layers.v[i]);
		fclose(w);
	}
	snprintf(err, errlen,
		 "%s%s%s\n"
		 "  ways out: run 'mkmesh fetch %s --dest DIR' on a connected machine and build with "
		 "--artifacts DIR%s%s",
		 fl->n > 1 ? "downloads failed" : "", fl->n > 1 ? ":\n  " : "", fl->text, r->name,
		 without ? fl->layers.n > 1 ? ", or leave the layers out with --without " :
					     ", or leave the layer out with --without " : "",
		 without ? without : "");
	free(fl->text);
	strv_release(&fl->layers);
	return fl->first_rc;
}

/* The signing key of A: the recipe's file, or downloaded and checked
 * against the pinned fingerprint. */
static int signing_key(const struct recipe_artifact *a, const char *cache, const char *adir,
		       char **path, char *err, size_t errlen)
{
	if (!a->sig_key_url) {
		*path = xstrdup(a->sig_key);
		return 0;
	}
	_cleanup_free_ char *name = xasprintf("signing-key-%s", a->sig_fingerprint);
	int rc = fetch_file(a->sig_key_url, name, cache, adir, path, err, errlen);
	if (rc == 0)
		rc = fetch_check_key(*path, a->sig_fingerprint, err, errlen);
	return rc;
}

static int fetch_one(const struct recipe_layer *l, const struct recipe_artifact *a,
		     const char *cache, const char *adir, struct artifact_file *f,
		     struct failures *fl)
{
	char ferr[1024], url_hash[65];
	int rc;
	mk_sha256_hex(a->url, strlen(a->url), url_hash);
	if (a->sha256) {
		rc = fetch_artifact(a->url, a->sha256, cache, adir, &f->path, ferr, sizeof(ferr));
	} else {
		/* No pinned hash: cached under its URL, and trusted only once
		 * its signature is checked below, on every build. */
		_cleanup_free_ char *name = xasprintf("signed-%s", url_hash);
		rc = fetch_file(a->url, name, cache, adir, &f->path, ferr, sizeof(ferr));
	}
	if (rc < 0) {
		_cleanup_free_ char *what = xasprintf("artifact '%s'", a->name);
		failed(fl, l, what, ferr, rc);
		return rc;
	}
	char seen[65];
	uint64_t size = 0;
	rc = mk_sha256_file(f->path, seen, &size);
	if (rc < 0) {
		snprintf(ferr, sizeof(ferr), "cannot read '%s': %s", f->path, strerror(-rc));
		failed(fl, l, "artifact", ferr, rc);
		return rc;
	}
	f->size = size;
	f->sha256 = xstrdup(seen);
	if (!a->sig_url)
		return 0;
	_cleanup_free_ char *name = xasprintf("%s.sig", a->sha256 ? a->sha256 : url_hash);
	rc = fetch_file(a->sig_url, name, cache, adir, &f->sig_path, ferr, sizeof(ferr));
	if (rc == 0)
		rc = signing_key(a, cache, adir, &f->sig_key, ferr, sizeof(ferr));
	if (rc == 0)
		rc = fetch_verify_signature(f->path, f->sig_path, f->sig_key, a->sig_fingerprint, ferr,
					    sizeof(ferr));
	if (rc < 0) {
		_cleanup_free_ char *what = xasprintf("signature of artifact '%s'", a->name);
		failed(fl, l, what, ferr, rc);
		return rc;
	}
	if (!a->sha256)
		mk_log_info("artifact '%s' (layer '%s') pins no sha256: trusted by its signature (key %s); "
			    "its sha256 is %s (a build records it in its manifest)",
			    a->name, l->name, a->sig_fingerprint, seen);
	return 0;
}

static int fetch_key(const struct recipe_layer *l, const struct recipe_apt_source *s,
		     const char *cache, const char *adir, struct apt_key *k, struct failures *fl)
{
	_cleanup_free_ char *name = xasprintf("apt-key-%s", s->key_fingerprint);
	char ferr[1024];
	int rc = fetch_file(s->key_url, name, cache, adir, &k->fetched, ferr, sizeof(ferr));
	if (rc == 0)
		rc = fetch_check_key(k->fetched, s->key_fingerprint, ferr, sizeof(ferr));
	/* apt takes a signed-by= keyring only by its name: binary as NAME.gpg
	 * (the source may publish either form). */
	if (rc == 0) {
		k->path = xasprintf("%s.gpg", k->fetched);
		rc = fetch_keyring(k->fetched, k->path, ferr, sizeof(ferr));
	}
	if (rc < 0) {
		_cleanup_free_ char *what = xasprintf("key of apt source '%s'", s->name);
		failed(fl, l, what, ferr, rc);
	}
	return rc;
}

int artifacts_fetch(const struct recipe *r, const char *cache, const char *adir,
		    struct artifacts *out, char *err, size_t errlen)
{
	*out = (struct artifacts){0};
	struct failures fl = {0};
	for (size_t i = 0; i < r->n_layers && !mk_interrupted; i++) {
		const struct recipe_layer *l = r->layers[i];
		for (size_t j = 0; j < l->n_artifacts && !mk_interrupted; j++) {
			out->files = xrealloc(out->files, (out->n_files + 1) * sizeof(*out->files));
			struct artifact_file *f = &out->files[out->n_files++];
			*f = (struct artifact_file){.layer = l, .artifact = &l->artifacts[j]};
			fetch_one(l, f->artifact, cache, adir, f, &fl);
		}
		const struct recipe_variant *v = l->variant;
		for (size_t j = 0; v && j < v->n_sources && !mk_interrupted; j++) {
			out->keys = xrealloc(out->keys, (out->n_keys + 1) * sizeof(*out->keys));
			struct apt_key *k = &out->keys[out->n_keys++];
			*k = (struct apt_key){.source = &v->sources[j]};
			fetch_key(l, k->source, cache, adir, k, &fl);
		}
	}
	if (mk_interrupted && !fl.n) {
		snprintf(err, errlen, "interrupted while fetching the downloads");
		return -MK_ERR_INTERRUPTED;
	}
	return failures_report(&fl, r, err, errlen);
}

void artifacts_release(struct artifacts *a)
{
	for (size_t i = 0; i < a->n_files; i++) {
		free(a->files[i].path);
		free(a->files[i].sig_path);
		free(a->files[i].sig_key);
		free(a->files[i].sha256);
	}
	free(a->files);
	for (size_t i = 0; i < a->n_keys; i++) {
		free(a->keys[i].fetched);
		free(a->keys[i].path);
	}
	free(a->keys);
	*a = (struct artifacts){0};
}
