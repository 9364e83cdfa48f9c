/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * rebuild_load() on a manifest (mkmesh build --from-manifest FILE) that is
 * the input, then what `mkmesh build` does with one it accepted: the layer
 * options it gives for the real recipe of its target (a copy of the source
 * tree's recipes/ and overlays/, made once), the recipe loaded with them and
 * pinned to it, and the package comparison.
 */
#include "fuzz.h"
#include "rebuild.h"

static char recipes[300], manifest[300];
static struct recipe *targets[2];
static const char *const target_names[2] = {"droplet", "rpi"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	const char *dir = fuzz_dir("rebuild");
	_cleanup_free_ char *src_recipes = xasprintf("%s/recipes", fuzz_srcdir());
	_cleanup_free_ char *src_overlays = xasprintf("%s/overlays", fuzz_srcdir());
	_cleanup_free_ char *overlays = xasprintf("%s/overlays", dir);
	snprintf(recipes, sizeof(recipes), "%s/recipes", dir);
	snprintf(manifest, sizeof(manifest), "%s/mkmesh-droplet-1.0-amd64.manifest.json", dir);
	fuzz_copy_tree(src_recipes, recipes, false);
	fuzz_copy_tree(src_overlays, overlays, false);
	for (size_t i = 0; i < ELEMENTSOF(targets); i++) {
		char err[4096];
		if (recipe_load(recipes, target_names[i], NULL, &targets[i], err, sizeof(err)) < 0) {
			fprintf(fuzz_stderr(), "fuzz: the real recipe does not load: %s\n", err);
			exit(1);
		}
	}
	return 0;
}

/* As cmd_build.c's pin_to_manifest(). */
static void pin(const struct rebuild *rb, const struct recipe *r0)
{
	char err[4096] = "";
	struct strv with = {0}, without = {0};
	struct recipe *r = NULL;
	int rc = rebuild_layer_options(rb, r0, &with, &without, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0], "rebuild_layer_options: rc %d without a message", rc);
	if (rc == 0) {
		struct recipe_options ro = {.suite = rb->suite, .mirror = rb->mirror, .with = &with,
					    .without = &without, .check_valid_until = -1,
					    .compress = rb->compress};
		rc = recipe_load(recipes, r0->name, &ro, &r, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || err[0], "recipe_load: rc %d without a message", rc);
	}
	if (rc == 0) {
		rc = rebuild_pin_recipe(rb, r, err, sizeof(err));
		FUZZ_CHECK(rc == 0 || err[0], "rebuild_pin_recipe: rc %d without a message", rc);
		if (rc == 0) {
			FUZZ_CHECK(r->pins.n == rb->n_packages, "%zu pins for %zu packages", r->pins.n,
				   rb->n_packages);
			/* the same layers, both ways */
			struct strv have = {0};
			for (size_t i = 0; i < r->n_layers; i++) {
				FUZZ_CHECK(strv_contains(&rb->layers, r->layers[i]->name),
					   "layer '%s' not in the manifest", r->layers[i]->name);
				strv_push(&have, r->layers[i]->name);
			}
			for (size_t i = 0; i < rb->layers.n; i++)
				FUZZ_CHECK(strv_contains(&have, rb->layers.v[i]), "layer '%s' not in the recipe",
					   rb->layers.v[i]);
			strv_release(&have);
		}
	}
	recipe_free(r);
	strv_release(&with);
	strv_release(&without);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096] = "";
	struct rebuild rb;
	fuzz_write(manifest, data, size);
	int rc = rebuild_load(manifest, &rb, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0], "rc %d without a message", rc);
	if (rc == 0) {
		FUZZ_CHECK(rb.target && rb.arch && rb.suite && rb.mirror && rb.version && rb.compress &&
				   rb.image_sha256 && strlen(rb.image_sha256) == 64,
			   "a field is missing");
		FUZZ_CHECK(rb.source_date_epoch > 0, "source_date_epoch %lld", (long long)rb.source_date_epoch);
		FUZZ_CHECK(rb.layers.n >= 1 && rb.n_packages >= 1, "no layers or packages");
		for (size_t i = 0; i < rb.n_packages; i++) {
			const struct compose_package *p = &rb.packages[i];
			FUZZ_CHECK(p->name && p->version && p->arch, "package %zu", i);
			FUZZ_CHECK(i == 0 || strcmp(rb.packages[i - 1].name, p->name) <= 0, "packages not sorted");
			/* they become lines of apt preferences and arguments */
			FUZZ_CHECK(!strpbrk(p->name, " \n\r\t") && !strpbrk(p->version, " \n\r\t"),
				   "package %zu: white space", i);
		}
		for (size_t i = 0; i < rb.n_artifacts; i++)
			FUZZ_CHECK(rb.artifacts[i].layer && rb.artifacts[i].name && rb.artifacts[i].url &&
					   rb.artifacts[i].sha256 && !strchr(rb.artifacts[i].name, '/'),
				   "artifact %zu", i);
		/* the same packages: no difference; none installed: all differ */
		FUZZ_CHECK(rebuild_check_packages(&rb, rb.packages, rb.n_packages, rb.mirror, err, sizeof(err)) == 0,
			   "the manifest's packages differ from themselves: %s", err);
		err[0] = '\0';
		FUZZ_CHECK(rebuild_check_packages(&rb, NULL, 0, rb.mirror, err, sizeof(err)) == -MK_ERR_CHECKSUM &&
				   err[0],
			   "no package installed is not a difference");
		char *hint = rebuild_snapshot_hint(&rb);
		FUZZ_CHECK(hint && strstr(hint, "snapshot.debian.org"), "no hint");
		free(hint);
		for (size_t i = 0; i < ELEMENTSOF(targets); i++)
			if (!strcmp(rb.target, target_names[i]))
				pin(&rb, targets[i]);
	}
	rebuild_release(&rb);
	return 0;
}
