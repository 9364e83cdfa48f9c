/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Everything a build downloads besides Debian packages: the layers'
 * artifacts (with their signatures) and the keys of extra apt sources,
 * fetched and verified before any long step starts. */
#ifndef MK_ARTIFACTS_H
#define MK_ARTIFACTS_H

#include <stdint.h>

#include "recipe.h"

struct artifact_file {
	const struct recipe_layer *layer;
	const struct recipe_artifact *artifact;
	char *path;      /* verified, in the cache */
	char *sig_path;  /* its checked signature, or NULL */
	char *sig_key;   /* the key it was checked with (downloaded or the recipe's) */
	char *sha256;    /* the pinned hash, or the one seen when none is pinned */
	uint64_t size;
};

struct apt_key {
	const struct recipe_apt_source *source;
	char *fetched;   /* as published; checked against the pinned fingerprint */
	char *path;      /* the same key as a binary keyring, NAME.gpg, for apt */
};

struct artifacts {
	struct artifact_file *files;
	size_t n_files;
	struct apt_key *keys;
	size_t n_keys;
};

/* Fetches and verifies all of R's downloads. ARTIFACTS_DIR (may be NULL)
 * holds local copies named like the URLs' last components. On error, err
 * names the layer, the URL and the ways out. */
int artifacts_fetch(const struct recipe *r, const char *cache_dir, const char *artifacts_dir,
		    struct artifacts *out, char *err, size_t errlen);
void artifacts_release(struct artifacts *a);

#endif
