/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh list: the targets and layers a recipe tree offers. */
#include <getopt.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "recipe.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mkmesh list [--recipes DIR]\n"
		   "\n"
		   "Shows the targets (what 'mkmesh build' makes) and the layers (what goes into\n"
		   "an image), with what each layer requires and whether it is optional\n"
		   "(optional layers are added with --with and left out with --without).\n");
}

static void print_wrapped(const char *prefix, const char *text)
{
	printf("%s%s\n", prefix, text ? text : "");
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{"recipes", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {0}};
	_cleanup_free_ char *dir = NULL;
	struct strv targets = {0}, layers = {0};
	char err[1024];
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': free(dir); dir = xstrdup(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!dir)
		dir = options_default_recipes();
	if (recipe_list(dir, &targets, &layers) < 0) {
		mk_log_error("cannot read the recipe tree '%s': %s", dir, strerror(errno));
		return 1;
	}
	printf("targets:\n");
	for (size_t i = 0; i < targets.n; i++) {
		struct recipe *r = NULL;
		if (recipe_load(dir, targets.v[i], NULL, &r, err, sizeof(err)) < 0) {
			printf("  %-12s (broken: %s)\n", targets.v[i], err);
			rc = 1;
			continue;
		}
		printf("  %-12s %s, Debian %s\n", r->name, r->arch, r->suite);
		print_wrapped("               ", r->description);
		printf("               layers:");
		for (size_t j = 0; j < r->n_layers; j++)
			printf(" %s", r->layers[j]->name);
		if (r->optional_layers.n) {
			printf("; optional:");
			for (size_t j = 0; j < r->optional_layers.n; j++)
				printf(" %s", r->optional_layers.v[j]);
		}
		printf("\n");
		recipe_free(r);
	}
	printf("layers:\n");
	for (size_t i = 0; i < layers.n; i++) {
		struct recipe_layer *l = NULL;
		if (recipe_layer_load(dir, layers.v[i], &l, err, sizeof(err)) < 0) {
			printf("  %-12s (broken: %s)\n", layers.v[i], err);
			rc = 1;
			continue;
		}
		printf("  %-12s%s", l->name, l->optional ? " (optional)" : "");
		if (l->requires.n) {
			printf(" requires:");
			for (size_t j = 0; j < l->requires.n; j++)
				printf(" %s", l->requires.v[j]);
		}
		printf("\n");
		print_wrapped("               ", l->description);
		recipe_layer_free(l);
	}
	strv_release(&targets);
	strv_release(&layers);
	return rc;
}
