/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "artifacts.h"

#include <string.h>
#include <sys/stat.h>

#include "fetch.h"

static int ways_out(const struct recipe *r, const struct recipe_layer *l, const char *what,
		    const char *msg, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "layer '%s': %s: %s\n"
		 "  ways out: run 'mkmesh fetch %s --dest DIR' on a connected machine and build with "
		 "--artifacts DIR%s%s",
		 l->name, what, msg, r->name, l->optional ? ", or leave the layer out with --without " : "",
		 l->optional ? l->name : "");
	return 0;
}

static int fetch_one(const struct recipe *r, const struct recipe_layer *l,
		     const struct recipe_artifact *a, const char *cache, const char *adir,
		     struct artifact_file *f, char *err, size_t errlen)
{
	char ferr[1024];
	int rc = fetch_artifact(a->url, a->sha256, cache, adir, &f->path, ferr, sizeof(ferr));
	if (rc < 0) {
		_cleanup_free_ char *what = xasprintf("artifact '%s'", a->name);
		ways_out(r, l, what, ferr, err, errlen);
		return rc;
	}
	struct stat st;
	f->size = stat(f->path, &st) == 0 ? (uint64_t)st.st_size : 0;
	if (!a->sig_url)
		return 0;
	_cleanup_free_ char *name = xasprintf("%s.sig", a->sha256);
	rc = fetch_file(a->sig_url, name, cache, adir, &f->sig_path, ferr, sizeof(ferr));
	if (rc == 0)
		rc = fetch_verify_signature(f->path, f->sig_path, a->sig_key, a->sig_fingerprint, ferr,
					    sizeof(ferr));
	if (rc < 0) {
		_cleanup_free_ char *what = xasprintf("signature of artifact '%s'", a->name);
		ways_out(r, l, what, ferr, err, errlen);
	}
	return rc;
}

int artifacts_fetch(const struct recipe *r, const char *cache, const char *adir,
		    struct artifacts *out, char *err, size_t errlen)
{
	*out = (struct artifacts){0};
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct recipe_layer *l = r->layers[i];
		for (size_t j = 0; j < l->n_artifacts; j++) {
			out->files = xrealloc(out->files, (out->n_files + 1) * sizeof(*out->files));
			struct artifact_file *f = &out->files[out->n_files++];
			*f = (struct artifact_file){.layer = l, .artifact = &l->artifacts[j]};
			int rc = fetch_one(r, l, f->artifact, cache, adir, f, err, errlen);
			if (rc < 0)
				return rc;
		}
		const struct recipe_variant *v = l->variant;
		for (size_t j = 0; v && j < v->n_sources; j++) {
			const struct recipe_apt_source *s = &v->sources[j];
			_cleanup_free_ char *name = xasprintf("apt-key-%s", s->key_fingerprint);
			char ferr[1024];
			out->keys = xrealloc(out->keys, (out->n_keys + 1) * sizeof(*out->keys));
			struct apt_key *k = &out->keys[out->n_keys++];
			*k = (struct apt_key){.source = s};
			int rc = fetch_file(s->key_url, name, cache, adir, &k->path, ferr, sizeof(ferr));
			if (rc == 0)
				rc = fetch_check_key(k->path, s->key_fingerprint, ferr, sizeof(ferr));
			if (rc < 0) {
				_cleanup_free_ char *what = xasprintf("key of apt source '%s'", s->name);
				ways_out(r, l, what, ferr, err, errlen);
				return rc;
			}
		}
	}
	return 0;
}

void artifacts_release(struct artifacts *a)
{
	for (size_t i = 0; i < a->n_files; i++) {
		free(a->files[i].path);
		free(a->files[i].sig_path);
	}
	free(a->files);
	for (size_t i = 0; i < a->n_keys; i++)
		free(a->keys[i].path);
	free(a->keys);
	*a = (struct artifacts){0};
}
