/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "options.h"

#include "grammar.h"

#include <getopt.h>
#include <string.h>

#include "commands.h"

char *options_default_cache(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	if (xdg && *xdg)
		return xasprintf("%s/mkmesh", xdg);
	if (geteuid() == 0)
		return xstrdup("/var/cache/mkmesh");
	return xasprintf("%s/.cache/mkmesh", home && *home ? home : "/tmp");
}

/* ./recipes when run from a checkout, else the one installed beside us. */
char *options_default_recipes(void)
{
	const char *env = getenv("MKMESH_RECIPES");
	char exe[4096];
	if (env && *env)
		return xstrdup(env);
	if (mk_path_exists("recipes"))
		return xstrdup("recipes");
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/recipes", exe);
			if (mk_path_exists(p))
				return p;
			free(p);
			p = xasprintf("%s/../share/mkmesh/recipes", exe);
			if (mk_path_exists(p))
				return p;
			free(p);
		}
	}
	return xstrdup("recipes");
}

static void set(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

typedef const char *grammar_fn(const char *);

/* VALUE (of OPTION) is of grammar G; else a usage error naming it. */
static bool option_ok(const char *option, const char *value, grammar_fn *g)
{
	const char *why = value ? g(value) : NULL;
	if (why) {
		/* shown as typed, but a line break or escape sequence stays visible */
		fprintf(stderr, "mkmesh: %s '", option);
		for (const unsigned char *c = (const unsigned char *)value; *c; c++)
			fprintf(stderr, *c >= 0x20 && *c < 0x7f ? "%c" : "\\x%02x", *c);
		fprintf(stderr, "': %s\n", why);
	}
	return !why;
}

/* Every value from the command line or the environment that reaches a file
 * name, a URL, apt or a tool is checked now, before any work. */
static bool options_checked(const struct build_options *o)
{
	bool ok = option_ok("--suite", o->suite, grammar_debian_suite) &&
		  option_ok("--mirror", o->mirror, grammar_http_url) &&
		  option_ok("--image-version", o->image_version, grammar_image_version) &&
		  option_ok("--recipes (or MKMESH_RECIPES)", o->recipes, grammar_local_path) &&
		  option_ok("--out", o->out, grammar_local_path) &&
		  option_ok("--cache (or XDG_CACHE_HOME, HOME)", o->cache, grammar_local_path) &&
		  option_ok("--artifacts", o->artifacts, grammar_local_path) &&
		  option_ok("--from-manifest", o->from_manifest, grammar_local_path);
	for (size_t i = 0; ok && i < o->with.n; i++)
		ok = option_ok("--with", o->with.v[i], grammar_name);
	for (size_t i = 0; ok && i < o->without.n; i++)
		ok = option_ok("--without", o->without.v[i], grammar_name);
	return ok;
}

int build_options_parse(struct build_options *o, int argc, char **argv, void (*usage)(FILE *))
{
	enum { O_SUITE = 256, O_WITH, O_WITHOUT, O_RECIPES, O_OUT, O_CACHE, O_ARTIFACTS, O_MIRROR,
	       O_NO_VALID, O_VERSION, O_COMPRESS, O_FROM_MANIFEST };
	static const struct option opts[] = {
		{"suite", required_argument, NULL, O_SUITE},
		{"with", required_argument, NULL, O_WITH},
		{"without", required_argument, NULL, O_WITHOUT},
		{"recipes", required_argument, NULL, O_RECIPES},
		{"out", required_argument, NULL, O_OUT},
		{"cache", required_argument, NULL, O_CACHE},
		{"artifacts", required_argument, NULL, O_ARTIFACTS},
		{"mirror", required_argument, NULL, O_MIRROR},
		{"no-check-valid-until", no_argument, NULL, O_NO_VALID},
		{"image-version", required_argument, NULL, O_VERSION},
		{"compress", required_argument, NULL, O_COMPRESS},
		{"from-manifest", required_argument, NULL, O_FROM_MANIFEST},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;

	*o = (struct build_options){.check_valid_until = -1};
	optind = 1;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_SUITE: set(&o->suite, optarg); break;
		case O_WITH: strv_split(&o->with, optarg, ","); break;
		case O_WITHOUT: strv_split(&o->without, optarg, ","); break;
		case O_RECIPES: set(&o->recipes, optarg); break;
		case O_OUT: set(&o->out, optarg); break;
		case O_CACHE: set(&o->cache, optarg); break;
		case O_ARTIFACTS: set(&o->artifacts, optarg); break;
		case O_MIRROR: set(&o->mirror, optarg); break;
		case O_NO_VALID: o->check_valid_until = 0; break;
		case O_VERSION: set(&o->image_version, optarg); break;
		case O_COMPRESS: set(&o->compress, optarg); break;
		case O_FROM_MANIFEST: set(&o->from_manifest, optarg); break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h':
			usage(stdout);
			build_options_release(o);
			return 0;
		default:
			usage(stderr);
			build_options_release(o);
			return 2;
		}
	}
	if (o->mirror) {
		size_t n = strlen(o->mirror);
		while (n > 1 && o->mirror[n - 1] == '/')
			o->mirror[--n] = '\0';
	}
	if (!o->recipes)
		o->recipes = options_default_recipes();
	if (!o->out)
		o->out = xstrdup("images");
	if (!o->cache)
		o->cache = options_default_cache();
	if (o->from_manifest && (o->suite || o->with.n || o->without.n || o->image_version || o->compress)) {
		fprintf(stderr, "mkmesh: --from-manifest pins the suite, the layers, the image version and "
				"the compression; leave out --suite, --with, --without, --image-version and --compress\n");
		build_options_release(o);
		return 2;
	}
	if (!o->image_version)
		o->image_version = xstrdup(MKMESH_VERSION);
	if (!options_checked(o)) {
		build_options_release(o);
		return 2;
	}
	return -1;
}

void build_options_release(struct build_options *o)
{
	free(o->suite);
	free(o->mirror);
	free(o->recipes);
	free(o->out);
	free(o->cache);
	free(o->artifacts);
	free(o->image_version);
	free(o->compress);
	free(o->from_manifest);
	strv_release(&o->with);
	strv_release(&o->without);
}
