/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * recipe_load() on a target recipe (recipes/<target>.json) that is the
 * input, with the real layers, keys and overlays beside it: a copy of the
 * source tree's recipes/ (without its targets) and overlays/ in the
 * harness's directory, made once. The target's file name is the input's
 * own "name" (else "fuzz"), as `mkmesh build NAME` would find it.
 */
#include "fuzz.h"
#include "recipe.h"

static char recipes[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_recipe_tree("recipe", recipes, sizeof(recipes));
	return 0;
}

static size_t layer_index(const struct recipe *r, const char *name)
{
	for (size_t i = 0; i < r->n_layers; i++)
		if (!strcmp(r->layers[i]->name, name))
			return i;
	return SIZE_MAX;
}

/* What recipe_load() promises about a recipe it accepted. */
static void check_recipe(const struct recipe *r, const char *target, const struct recipe_options *o)
{
	FUZZ_CHECK(!strcmp(r->name, target), "name '%s'", r->name);
	FUZZ_CHECK(r->n_layers >= 1, "no layers");
	FUZZ_CHECK(r->disk.size >= (256ULL << 20) && r->disk.size <= (2ULL << 40), "disk.size %llu",
		   (unsigned long long)r->disk.size);
	FUZZ_CHECK(r->disk.firmware_size + (256ULL << 20) <= r->disk.size, "firmware_size %llu",
		   (unsigned long long)r->disk.firmware_size);
	FUZZ_CHECK(!strcmp(r->arch, "amd64") || !strcmp(r->arch, "arm64"), "arch '%s'", r->arch);
	FUZZ_CHECK(r->compress && r->components.n >= 1, "defaults not filled in");
	FUZZ_CHECK(r->setup_paths.n == r->setup_sources.n, "setup_files");
	for (size_t i = 0; i < r->default_layers.n; i++)
		FUZZ_CHECK(layer_index(r, r->default_layers.v[i]) != SIZE_MAX ||
				   (o && o->without && strv_contains(o->without, r->default_layers.v[i])),
			   "default layer '%s' not resolved", r->default_layers.v[i]);
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct recipe_layer *l = r->layers[i];
		FUZZ_CHECK(layer_index(r, l->name) == i, "layer '%s' twice", l->name);
		/* dependencies first */
		for (size_t j = 0; j < l->requires.n; j++)
			FUZZ_CHECK(layer_index(r, l->requires.v[j]) < i, "layer '%s' before '%s', which it requires",
				   l->name, l->requires.v[j]);
		FUZZ_CHECK(l->n_variants == 0 ||
				   (l->variant >= l->variants && l->variant < l->variants + l->n_variants),
			   "layer '%s': no variant chosen", l->name);
		for (size_t j = 0; j < l->n_artifacts; j++)
			FUZZ_CHECK(!l->artifacts[j].arch || !strcmp(l->artifacts[j].arch, r->arch),
				   "layer '%s': an artifact for %s kept", l->name, l->artifacts[j].arch);
	}
	const struct recipe_apt_source *src[64];
	size_t n = recipe_apt_sources(r, src, ELEMENTSOF(src));
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(src[i]->name && src[i]->uri && src[i]->components.n, "apt source %zu", i);
	struct strv pkgs = {0};
	recipe_all_packages(r, &pkgs);
	for (size_t i = 1; i < pkgs.n; i++)
		FUZZ_CHECK(strcmp(pkgs.v[i - 1], pkgs.v[i]) < 0, "packages not sorted and unique");
	strv_release(&pkgs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[80], err[4096];
	struct recipe *r = NULL;
	fuzz_json_name(data, size, "fuzz", name, sizeof(name));
	_cleanup_free_ char *path = xasprintf("%s/%s.json", recipes, name);
	fuzz_write(path, data, size);

	err[0] = '\0';
	int rc = recipe_load(recipes, name, NULL, &r, err, sizeof(err));
	FUZZ_CHECK((rc == 0) == (r != NULL), "rc %d", rc);
	FUZZ_CHECK(rc == 0 || err[0], "rc %d without a message", rc);
	if (rc == 0) {
		check_recipe(r, name, NULL);
		/* again with every optional layer (--with), and the suite and
		 * compression of the command line */
		struct strv with = {0};
		for (size_t i = 0; i < r->optional_layers.n; i++)
			strv_push(&with, r->optional_layers.v[i]);
		recipe_free(r);
		r = NULL;
		struct recipe_options o = {.with = &with, .suite = "bookworm", .compress = "zstd",
					   .check_valid_until = 0};
		if (recipe_load(recipes, name, &o, &r, err, sizeof(err)) == 0) {
			check_recipe(r, name, &o);
			FUZZ_CHECK(!strcmp(r->suite, "bookworm") && !strcmp(r->compress, "zstd") &&
					   !r->check_valid_until,
				   "options not applied");
			for (size_t i = 0; i < with.n; i++)
				FUZZ_CHECK(layer_index(r, with.v[i]) != SIZE_MAX, "--with %s not resolved", with.v[i]);
		}
		strv_release(&with);
		recipe_free(r);
	}
	unlink(path);
	return 0;
}
