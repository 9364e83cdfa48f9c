/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A layer file (recipes/layers/<name>.json) that is the input, loaded by
 * recipe_layer_load() and then resolved by recipe_load() for a target of
 * each architecture that names it, beside the real layers (a copy of the
 * source tree's recipes/ and overlays/, made once). The layer's file name
 * is the input's own "name" (else "fuzz"); when that is a real layer, the
 * input takes its place for this run and the real one is put back.
 */
#include "fuzz.h"
#include "recipe.h"

static char recipes[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fuzz_recipe_tree("recipe-layer", recipes, sizeof(recipes));
	return 0;
}

/* "/" and plain components: none empty, "." or "..". */
static bool image_path_ok(const char *s)
{
	if (s[0] != '/')
		return false;
	for (const char *p = s + 1;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static void check_layer(const struct recipe_layer *l, const char *name)
{
	FUZZ_CHECK(!strcmp(l->name, name), "name '%s'", l->name);
	FUZZ_CHECK(!l->overlay || strstr(l->overlay, "/overlays/"), "overlay '%s'", l->overlay);
	for (size_t i = 0; i < l->n_artifacts; i++) {
		const struct recipe_artifact *a = &l->artifacts[i];
		FUZZ_CHECK(a->name && a->url && a->sha256 && strlen(a->sha256) == 64 && a->dest &&
				   image_path_ok(a->dest) && a->mode >= 0 && a->mode <= 07777,
			   "artifact %zu", i);
		FUZZ_CHECK(!a->sig_url == !a->sig_key && !a->sig_url == !a->sig_fingerprint, "artifact %zu: signature", i);
	}
	for (size_t i = 0; i < l->n_attrs; i++)
		FUZZ_CHECK(l->attrs[i].glob[0] != '/' && l->attrs[i].mode <= 07777, "files %zu", i);
}

/* A target of ARCH whose only layer is NAME. */
static void load_target(const char *name, const char *arch)
{
	char err[4096];
	struct recipe *r = NULL;
	_cleanup_free_ char *target = xasprintf("fuzz-%s", arch);
	_cleanup_free_ char *path = xasprintf("%s/%s.json", recipes, target);
	_cleanup_free_ char *text = xasprintf(
		"{\"name\": \"%s\", \"kind\": \"droplet\", \"arch\": \"%s\", \"suite\": \"trixie\", "
		"\"mirror\": \"http://deb.debian.org/debian\", \"disk\": {\"size\": \"4G\"}, "
		"\"layers\": [\"%s\"]}",
		target, arch, name);
	fuzz_write(path, text, strlen(text));
	int rc = recipe_load(recipes, target, NULL, &r, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || err[0], "rc %d without a message", rc);
	if (rc == 0) {
		FUZZ_CHECK(r->n_layers >= 1 && !strcmp(r->layers[r->n_layers - 1]->name, name),
			   "the layer is not last, after what it requires");
		for (size_t i = 0; i < r->n_layers; i++) {
			const struct recipe_layer *l = r->layers[i];
			FUZZ_CHECK(l->n_variants == 0 || l->variant, "layer '%s': no variant chosen", l->name);
			for (size_t j = 0; j < l->n_artifacts; j++)
				FUZZ_CHECK(!l->artifacts[j].arch || !strcmp(l->artifacts[j].arch, arch),
					   "layer '%s': an artifact for %s kept", l->name, l->artifacts[j].arch);
		}
		struct strv pkgs = {0};
		recipe_all_packages(r, &pkgs);
		strv_release(&pkgs);
		recipe_free(r);
	}
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[80], err[4096];
	struct recipe_layer *l = NULL;
	fuzz_json_name(data, size, "fuzz", name, sizeof(name));
	_cleanup_free_ char *path = xasprintf("%s/layers/%s.json", recipes, name);
	_cleanup_free_ char *real = NULL;
	size_t real_len = 0;
	if (mk_read_file(path, &real, &real_len) < 0)
		real = NULL;
	fuzz_write(path, data, size);

	err[0] = '\0';
	int rc = recipe_layer_load(recipes, name, &l, err, sizeof(err));
	FUZZ_CHECK((rc == 0) == (l != NULL), "rc %d", rc);
	FUZZ_CHECK(rc == 0 || err[0], "rc %d without a message", rc);
	if (rc == 0) {
		check_layer(l, name);
		recipe_layer_free(l);
		load_target(name, "amd64");
		load_target(name, "arm64");
	}
	if (real)
		fuzz_write(path, real, real_len);
	else
		unlink(path);
	return 0;
}
