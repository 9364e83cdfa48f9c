/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Options shared by the commands that build (build, fetch): where recipes,
 * the cache and the outputs are, and which layers. */
#ifndef MK_OPTIONS_H
#define MK_OPTIONS_H

#include "util.h"

struct build_options {
	char *suite, *mirror, *recipes, *out, *cache, *artifacts, *image_version;
	char *compress; /* --compress: gzip, zstd or xz instead of the recipe's */
	char *from_manifest; /* --from-manifest: pins everything to an earlier build's */
	struct strv with, without;
	int check_valid_until; /* -1: as the recipe says */
};

/* Parses argv with getopt_long. Returns -1 to go on (optind is at the first
 * operand), or an exit code (0 after --help, 2 on bad usage). */
int build_options_parse(struct build_options *o, int argc, char **argv, void (*usage)(FILE *));
void build_options_release(struct build_options *o);

/* The defaults, also for commands with their own parsing. */
char *options_default_cache(void);
char *options_default_recipes(void);

#endif
