/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "recipe.h"

#include "grammar.h"

#include <ctype.h>
#include <dirent.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

/* Where we are while validating, so that every message names file and path. */
struct ctx {
	const char *file;
	char *err;
	size_t errlen;
	const char *dir; /* the recipe tree */
};

#define _cleanup_json_ _cleanup_(json_decrefp) /* jansson provides json_decrefp */

__attribute__((format(printf, 3, 4)))
static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(c->err, c->errlen, "%s: %s%s", c->file, path, *path ? ": " : "");
	if (n < 0 || (size_t)n >= c->errlen)
		return -MK_ERR_RECIPE;
	va_start(ap, fmt);
	vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -MK_ERR_RECIPE;
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "something else";
}

static int check_keys(struct ctx *c, const char *path, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			_cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
			return fail(c, p, "unknown key (a typo?)");
		}
	}
	return 0;
}

/* Gets obj[key] as a string; NULL result with 0 when optional and absent. */
static int get_str(struct ctx *c, const char *path, json_t *obj, const char *key, bool required,
		   char **out)
{
	json_t *v = json_object_get(obj, key);
	_cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);

	*out = NULL;
	if (!v)
		return required ? fail(c, p, "missing (required)") : 0;
	if (!json_is_string(v))
		return fail(c, p, "expected a string, got %s", type_name(v));
	if (json_string_length(v) == 0)
		return fail(c, p, "must not be empty");
	*out = xstrdup(json_string_value(v));
	return 0;
}

static int get_bool(struct ctx *c, const char *path, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v)) {
		_cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
		return fail(c, p, "expected a boolean, got %s", type_name(v));
	}
	*out = json_is_true(v);
	return 0;
}

typedef bool (*str_check)(const char *s);

static int get_strv(struct ctx *c, const char *path, json_t *obj, const char *key,
		    struct strv *out, str_check check, const char *what)
{
	json_t *v = json_object_get(obj, key), *item;
	size_t i;
	_cleanup_free_ char *p = *path ? xasprintf("%s.%s", path, key) : xstrdup(key);

	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(c, p, "expected an array, got %s", type_name(v));
	json_array_foreach(v, i, item) {
		_cleanup_free_ char *ip = xasprintf("%s[%zu]", p, i);
		if (!json_is_string(item))
			return fail(c, ip, "expected a string, got %s", type_name(item));
		const char *s = json_string_value(item);
		if (check && !check(s))
			return fail(c, ip, "'%s' is not %s", s, what);
		if (strv_contains(out, s))
			return fail(c, ip, "'%s' is listed twice", s);
		strv_push(out, s);
	}
	return 0;
}

/* Debian policy 5.6.1: lower case, digits, + - . ; at least two chars. */
static bool valid_package(const char *s)
{
	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return false;
	if (strlen(s) < 2)
		return false;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("+-.", *p))
			return false;
	return true;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
	return true;
}

static bool valid_unit(const char *s)
{
	const char *dot = strrchr(s, '.');
	if (!dot || strchr(s, '/'))
		return false;
	return !strcmp(dot, ".service") || !strcmp(dot, ".timer") || !strcmp(dot, ".path") ||
	       !strcmp(dot, ".socket") || !strcmp(dot, ".target") || !strcmp(dot, ".mount");
}

static bool valid_sha256(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p) || isupper((unsigned char)*p))
			return false;
	return true;
}

static bool valid_fingerprint(const char *s)
{
	if (strlen(s) != 40)
		return false;
	for (const char *p = s; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return true;
}

static bool valid_arch(const char *s)
{
	return !strcmp(s, "amd64") || !strcmp(s, "arm64");
}

/* http(s) of plain characters, or a local file:// path without spaces
 * (the URL goes into sources.list, whose fields are space-separated). */
static bool valid_url(const char *s)
{
	if (!strncmp(s, "file://", 7))
		return s[7] == '/' && !grammar_local_path(s + 7) && !strchr(s, ' ');
	return !grammar_http_url(s);
}
#define URL_WANTED "an http(s):// or file:// URL of plain characters (letters, digits and . _ ~ - / : %% + = @)"

/* An absolute path in the image naming a file: "/" then plain components,
 * no "." or "..", no trailing "/", no empty component. */
static bool valid_image_path(const char *s)
{
	if (s[0] != '/' || s[1] == '\0' || strlen(s) > 1024)
		return false;
	for (const char *p = s + 1;;) {
		size_t n = strcspn(p, "/");
		_cleanup_free_ char *comp = xasprintf("%.*s", (int)n, p);
		if (n == 0 || grammar_file_name(comp))
			return false;
		if (p[n] == '\0')
			return true;
		p += n + 1;
	}
}

/* A kernel command line that grub's settings (a shell file update-grub
 * sources) and cmdline.txt hold as it is: words of plain characters. */
static bool valid_cmdline(const char *s)
{
	if (strlen(s) > 1024)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(" ._-=,:/+@", *p))
			return false;
	return true;
}

/* A file system label: letters, digits, '_' and '-', 1..MAX. */
static bool valid_label(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			return false;
	return true;
}

int recipe_parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	uint64_t mul = 1;
	switch (*end) {
	case 'K': mul = 1ULL << 10; end++; break;
	case 'M': mul = 1ULL << 20; end++; break;
	case 'G': mul = 1ULL << 30; end++; break;
	case 'T': mul = 1ULL << 40; end++; break;
	case '\0': break;
	default: return -EINVAL;
	}
	if (*end || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int get_size(struct ctx *c, const char *path, json_t *obj, const char *key, uint64_t *out)
{
	_cleanup_free_ char *s = NULL;
	int r = get_str(c, path, obj, key, false, &s);
	if (r < 0 || !s)
		return r;
	if (recipe_parse_size(s, out) < 0) {
		_cleanup_free_ char *p = xasprintf("%s.%s", path, key);
		return fail(c, p, "'%s' is not a size (examples: \"4G\", \"512M\")", s);
	}
	return 0;
}

static int parse_mode(struct ctx *c, const char *path, const char *s, int *out)
{
	char *end;
	long m = strtol(s, &end, 8);
	if (*end || end == s || m < 0 || m > 07777)
		return fail(c, path, "'%s' is not an octal file mode (example: \"0644\")", s);
	*out = (int)m;
	return 0;
}

static int load_json(struct ctx *c, const char *path, json_t **out)
{
	json_error_t je;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	json_t *j = mk_json_load_regular(path, 1 << 20, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		if (je.line < 0)
			snprintf(c->err, c->errlen, "%s: cannot read: %s", path, je.text);
		else
			snprintf(c->err, c->errlen, "%s:%d:%d: %s", path, je.line, je.column, je.text);
		return -MK_ERR_RECIPE;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return fail(c, "", "expected a JSON object at the top");
	}
	*out = j;
	return 0;
}

static bool valid_component(const char *s);
static bool valid_suite_name(const char *s);

/* --- layers --- */

static int parse_attrs(struct ctx *c, json_t *root, struct recipe_layer *l)
{
	static const char *const keys[] = {"mode", "uid", "gid", NULL};
	json_t *files = json_object_get(root, "files"), *v;
	const char *glob;

	if (!files)
		return 0;
	if (!json_is_object(files))
		return fail(c, "files", "expected an object mapping overlay paths to {\"mode\": ...}, got %s",
			    type_name(files));
	l->attrs = xcalloc(json_object_size(files), sizeof(*l->attrs));
	json_object_foreach(files, glob, v) {
		_cleanup_free_ char *p = xasprintf("files.%s", glob);
		struct recipe_file_attr *a = &l->attrs[l->n_attrs++];
		*a = (struct recipe_file_attr){.glob = xstrdup(glob), .mode = -1, .uid = -1, .gid = -1};
		if (glob[0] == '/')
			return fail(c, p, "paths are relative to the overlay directory (no leading '/')");
		if (!json_is_object(v))
			return fail(c, p, "expected an object, got %s", type_name(v));
		int r = check_keys(c, p, v, keys);
		if (r < 0)
			return r;
		_cleanup_free_ char *mode = NULL;
		r = get_str(c, p, v, "mode", false, &mode);
		if (r < 0)
			return r;
		if (mode) {
			_cleanup_free_ char *mp = xasprintf("%s.mode", p);
			r = parse_mode(c, mp, mode, &a->mode);
			if (r < 0)
				return r;
		}
		static const char *const ids[] = {"uid", "gid"};
		for (int i = 0; i < 2; i++) {
			json_t *id = json_object_get(v, ids[i]);
			if (!id)
				continue;
			if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > 65535) {
				_cleanup_free_ char *ip = xasprintf("%s.%s", p, ids[i]);
				return fail(c, ip, "expected a numeric id from 0 to 65535 (names are not known before the image exists)");
			}
			*(i ? &a->gid : &a->uid) = (long)json_integer_value(id);
		}
	}
	return 0;
}

/* P.url and P.fingerprint of a signature or an apt source's key. */
static int check_url_and_fingerprint(struct ctx *c, const char *p, const char *url, const char *fpr)
{
	if (!valid_url(url)) {
		_cleanup_free_ char *up = xasprintf("%s.url", p);
		return fail(c, up, "'%s' is not " URL_WANTED, url);
	}
	if (!valid_fingerprint(fpr)) {
		_cleanup_free_ char *fp = xasprintf("%s.fingerprint", p);
		return fail(c, fp, "expected 40 hex digits (an OpenPGP v4 fingerprint)");
	}
	return 0;
}

/* "signature": a detached OpenPGP signature at URL, made by the key whose
 * primary fingerprint is pinned; the key is a file of the recipe tree
 * ("key") or downloaded ("key_url") and checked against the fingerprint. */
static int parse_signature(struct ctx *c, const char *p, json_t *sig, struct recipe_artifact *a)
{
	static const char *const sig_keys[] = {"url", "key", "key_url", "fingerprint", NULL};
	_cleanup_free_ char *gp = xasprintf("%s.signature", p);
	int r;
	if (!json_is_object(sig))
		return fail(c, gp, "expected an object, got %s", type_name(sig));
	if ((r = check_keys(c, gp, sig, sig_keys)) < 0 ||
	    (r = get_str(c, gp, sig, "url", true, &a->sig_url)) < 0 ||
	    (r = get_str(c, gp, sig, "key", false, &a->sig_key)) < 0 ||
	    (r = get_str(c, gp, sig, "key_url", false, &a->sig_key_url)) < 0 ||
	    (r = get_str(c, gp, sig, "fingerprint", true, &a->sig_fingerprint)) < 0)
		return r;
	if ((r = check_url_and_fingerprint(c, gp, a->sig_url, a->sig_fingerprint)) < 0)
		return r;
	if (!a->sig_key == !a->sig_key_url)
		return fail(c, gp, "give the key as 'key' (a file in the recipe tree) or as 'key_url' "
			    "(downloaded and checked against the fingerprint), one of the two");
	if (a->sig_key_url) {
		if (!valid_url(a->sig_key_url)) {
			_cleanup_free_ char *up = xasprintf("%s.key_url", gp);
			return fail(c, up, "'%s' is not " URL_WANTED, a->sig_key_url);
		}
		return 0;
	}
	if (a->sig_key[0] == '/' || strstr(a->sig_key, "..")) {
		_cleanup_free_ char *kp = xasprintf("%s.key", gp);
		return fail(c, kp, "'%s' must be a path inside the recipe tree", a->sig_key);
	}
	/* Relative to the recipe tree, like overlays. */
	_cleanup_free_ char *rel = a->sig_key;
	a->sig_key = xasprintf("%s/%s", c->dir, rel);
	if (!mk_path_exists(a->sig_key)) {
		_cleanup_free_ char *kp = xasprintf("%s.key", gp);
		return fail(c, kp, "key file '%s' does not exist", a->sig_key);
	}
	return 0;
}

static int parse_artifacts(struct ctx *c, json_t *root, struct recipe_layer *l)
{
	static const char *const keys[] = {"name", "url", "sha256", "dest", "mode", "unpack",
					   "arch", "signature", NULL};
	json_t *arr = json_object_get(root, "artifacts"), *v;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(c, "artifacts", "expected an array, got %s", type_name(arr));
	l->artifacts = xcalloc(json_array_size(arr), sizeof(*l->artifacts));
	json_array_foreach(arr, i, v) {
		_cleanup_free_ char *p = xasprintf("artifacts[%zu]", i);
		struct recipe_artifact *a = &l->artifacts[l->n_artifacts++];
		_cleanup_free_ char *mode = NULL;
		int r;

		a->mode = 0644;
		if (!json_is_object(v))
			return fail(c, p, "expected an object, got %s", type_name(v));
		if ((r = check_keys(c, p, v, keys)) < 0 ||
		    (r = get_str(c, p, v, "name", true, &a->name)) < 0 ||
		    (r = get_str(c, p, v, "url", true, &a->url)) < 0 ||
		    (r = get_str(c, p, v, "sha256", false, &a->sha256)) < 0 ||
		    (r = get_str(c, p, v, "dest", true, &a->dest)) < 0 ||
		    (r = get_str(c, p, v, "mode", false, &mode)) < 0 ||
		    (r = get_bool(c, p, v, "unpack", &a->unpack)) < 0 ||
		    (r = get_str(c, p, v, "arch", false, &a->arch)) < 0)
			return r;
		if (a->arch && !valid_arch(a->arch)) {
			_cleanup_free_ char *ap = xasprintf("%s.arch", p);
			return fail(c, ap, "'%s' is not supported (supported: \"amd64\", \"arm64\")", a->arch);
		}
		if (!valid_name(a->name))
			return fail(c, p, "name '%s' must be lower case letters, digits, '-' or '_'", a->name);
		if (!valid_url(a->url)) {
			_cleanup_free_ char *up = xasprintf("%s.url", p);
			return fail(c, up, "'%s' is not " URL_WANTED, a->url);
		}
		if (a->sha256 && !valid_sha256(a->sha256)) {
			_cleanup_free_ char *sp = xasprintf("%s.sha256", p);
			return fail(c, sp, "expected 64 lower-case hex digits");
		}
		if (!valid_image_path(a->dest)) {
			_cleanup_free_ char *dp = xasprintf("%s.dest", p);
			return fail(c, dp, "'%s' must be the absolute path of a file in the image ('/' and "
				    "plain names: letters, digits and . _ + ~ -; no '.', '..' or trailing '/')",
				    a->dest);
		}
		if (mode) {
			_cleanup_free_ char *mp = xasprintf("%s.mode", p);
			if ((r = parse_mode(c, mp, mode, &a->mode)) < 0)
				return r;
		}
		json_t *sig = json_object_get(v, "signature");
		if (sig && (r = parse_signature(c, p, sig, a)) < 0)
			return r;
		/* Without a pinned hash the signature is what is trusted; the
		 * build records the hash it saw in the manifest. */
		if (!a->sha256 && !sig) {
			_cleanup_free_ char *sp = xasprintf("%s.sha256", p);
			return fail(c, sp, "missing (required unless the artifact has a signature)");
		}
	}
	return 0;
}

static int parse_source(struct ctx *c, const char *p, json_t *v, struct recipe_apt_source *src)
{
	static const char *const keys[] = {"name", "uri", "suite", "components", "key", NULL};
	static const char *const key_keys[] = {"url", "fingerprint", NULL};
	int r;

	if (!json_is_object(v))
		return fail(c, p, "expected an object, got %s", type_name(v));
	if ((r = check_keys(c, p, v, keys)) < 0 ||
	    (r = get_str(c, p, v, "name", true, &src->name)) < 0 ||
	    (r = get_str(c, p, v, "uri", true, &src->uri)) < 0 ||
	    (r = get_str(c, p, v, "suite", false, &src->suite)) < 0 ||
	    (r = get_strv(c, p, v, "components", &src->components, valid_component,
			  "a Debian archive component")) < 0)
		return r;
	if (!valid_name(src->name))
		return fail(c, p, "name '%s' must be lower case letters, digits, '-' or '_'", src->name);
	if (src->suite && grammar_debian_suite(src->suite)) {
		_cleanup_free_ char *sp = xasprintf("%s.suite", p);
		return fail(c, sp, "'%s' is %s", src->suite, grammar_debian_suite(src->suite));
	}
	if (!valid_url(src->uri)) {
		_cleanup_free_ char *up = xasprintf("%s.uri", p);
		return fail(c, up, "'%s' is not " URL_WANTED, src->uri);
	}
	if (src->components.n == 0)
		strv_push(&src->components, "main");
	json_t *key = json_object_get(v, "key");
	_cleanup_free_ char *kp = xasprintf("%s.key", p);
	if (!key)
		return fail(c, kp, "missing (required: an apt source without a pinned key is not trusted)");
	if (!json_is_object(key))
		return fail(c, kp, "expected an object, got %s", type_name(key));
	if ((r = check_keys(c, kp, key, key_keys)) < 0 ||
	    (r = get_str(c, kp, key, "url", true, &src->key_url)) < 0 ||
	    (r = get_str(c, kp, key, "fingerprint", true, &src->key_fingerprint)) < 0)
		return r;
	return check_url_and_fingerprint(c, kp, src->key_url, src->key_fingerprint);
}

static int parse_variants(struct ctx *c, json_t *root, struct recipe_layer *l)
{
	static const char *const keys[] = {"suites", "arches", "packages", "apt_sources", NULL};
	json_t *arr = json_object_get(root, "variants"), *v;
	size_t i;
	int r;

	if (!arr)
		return 0;
	if (!json_is_array(arr) || json_array_size(arr) == 0)
		return fail(c, "variants", "expected a non-empty array");
	l->variants = xcalloc(json_array_size(arr), sizeof(*l->variants));
	json_array_foreach(arr, i, v) {
		_cleanup_free_ char *p = xasprintf("variants[%zu]", i);
		struct recipe_variant *var = &l->variants[l->n_variants++];
		if (!json_is_object(v))
			return fail(c, p, "expected an object, got %s", type_name(v));
		if ((r = check_keys(c, p, v, keys)) < 0 ||
		    (r = get_strv(c, p, v, "suites", &var->suites, valid_suite_name, "a suite name")) < 0 ||
		    (r = get_strv(c, p, v, "arches", &var->arches, valid_arch,
				  "a supported architecture (amd64, arm64)")) < 0 ||
		    (r = get_strv(c, p, v, "packages", &var->packages, valid_package,
				  "a Debian package name")) < 0)
			return r;
		json_t *srcs = json_object_get(v, "apt_sources"), *sv;
		size_t j;
		if (!srcs)
			continue;
		_cleanup_free_ char *sp = xasprintf("%s.apt_sources", p);
		if (!json_is_array(srcs))
			return fail(c, sp, "expected an array, got %s", type_name(srcs));
		var->sources = xcalloc(json_array_size(srcs) + 1, sizeof(*var->sources));
		json_array_foreach(srcs, j, sv) {
			_cleanup_free_ char *ip = xasprintf("%s[%zu]", sp, j);
			if ((r = parse_source(c, ip, sv, &var->sources[var->n_sources++])) < 0)
				return r;
		}
	}
	return 0;
}

static void variant_release(struct recipe_variant *v)
{
	strv_release(&v->suites);
	strv_release(&v->arches);
	strv_release(&v->packages);
	for (size_t i = 0; i < v->n_sources; i++) {
		struct recipe_apt_source *s = &v->sources[i];
		free(s->name);
		free(s->uri);
		free(s->suite);
		strv_release(&s->components);
		free(s->key_url);
		free(s->key_fingerprint);
	}
	free(v->sources);
}

void recipe_layer_free(struct recipe_layer *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->file);
	free(l->description);
	free(l->overlay);
	strv_release(&l->requires);
	strv_release(&l->packages);
	strv_release(&l->enable);
	for (size_t i = 0; i < l->n_attrs; i++)
		free(l->attrs[i].glob);
	free(l->attrs);
	for (size_t i = 0; i < l->n_artifacts; i++) {
		struct recipe_artifact *a = &l->artifacts[i];
		free(a->name);
		free(a->url);
		free(a->sha256);
		free(a->dest);
		free(a->arch);
		free(a->sig_url);
		free(a->sig_key);
		free(a->sig_key_url);
		free(a->sig_fingerprint);
	}
	free(l->artifacts);
	for (size_t i = 0; i < l->n_variants; i++)
		variant_release(&l->variants[i]);
	free(l->variants);
	free(l);
}

static inline void layer_freep(struct recipe_layer **l) { recipe_layer_free(*l); }

int recipe_layer_load(const char *dir, const char *name, struct recipe_layer **out,
		      char *err, size_t errlen)
{
	static const char *const keys[] = {"name", "description", "optional", "requires", "packages",
					   "overlay", "files", "enable", "artifacts", "variants", NULL};
	_cleanup_free_ char *file = xasprintf("%s/layers/%s.json", dir, name);
	struct ctx c = {.file = file, .err = err, .errlen = errlen, .dir = dir};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(layer_freep) struct recipe_layer *l = xcalloc(1, sizeof(*l));
	_cleanup_free_ char *overlay = NULL;
	int r;

	r = load_json(&c, file, &root);
	if (r == -ENOENT) {
		snprintf(err, errlen, "%s: no such layer file", file);
		return -MK_ERR_RECIPE;
	}
	if (r < 0) {
		if (r != -MK_ERR_RECIPE)
			snprintf(err, errlen, "%s: %s", file, strerror(-r));
		return r;
	}
	l->file = xstrdup(file);
	if ((r = check_keys(&c, "", root, keys)) < 0 ||
	    (r = get_str(&c, "", root, "name", true, &l->name)) < 0 ||
	    (r = get_str(&c, "", root, "description", false, &l->description)) < 0 ||
	    (r = get_bool(&c, "", root, "optional", &l->optional)) < 0 ||
	    (r = get_strv(&c, "", root, "requires", &l->requires, valid_name, "a layer name")) < 0 ||
	    (r = get_strv(&c, "", root, "packages", &l->packages, valid_package,
			  "a Debian package name")) < 0 ||
	    (r = get_str(&c, "", root, "overlay", false, &overlay)) < 0 ||
	    (r = get_strv(&c, "", root, "enable", &l->enable, valid_unit,
			  "a systemd unit name (foo.service, foo.timer, ...)")) < 0 ||
	    (r = parse_attrs(&c, root, l)) < 0 ||
	    (r = parse_artifacts(&c, root, l)) < 0 ||
	    (r = parse_variants(&c, root, l)) < 0)
		return r;
	if (strcmp(l->name, name) != 0)
		return fail(&c, "name", "'%s' does not match the file name '%s.json'", l->name, name);
	if (overlay) {
		/* One plain name: "." would make the whole recipe tree an overlay. */
		if (grammar_file_name(overlay) || overlay[0] == '.')
			return fail(&c, "overlay", "'%s' must be the name of a directory under overlays/ "
				    "(no '/', not starting with '.')", overlay);
		/* Overlays live beside the recipe tree: <dir>/../overlays/<name>. */
		const char *slash = strrchr(dir, '/');
		l->overlay = slash ? xasprintf("%.*s/overlays/%s", (int)(slash - dir), dir, overlay)
				   : xasprintf("overlays/%s", overlay);
		struct stat st;
		if (stat(l->overlay, &st) < 0 || !S_ISDIR(st.st_mode))
			return fail(&c, "overlay", "directory '%s' does not exist", l->overlay);
	}
	*out = TAKE_PTR(l);
	return 0;
}

/* --- targets --- */

void recipe_free(struct recipe *r)
{
	if (!r)
		return;
	free(r->dir);
	free(r->name);
	free(r->file);
	free(r->description);
	free(r->kind);
	free(r->arch);
	free(r->suite);
	free(r->mirror);
	strv_release(&r->components);
	strv_release(&r->packages);
	free(r->kernel_cmdline);
	free(r->disk.table);
	free(r->disk.root_label);
	free(r->disk.root_fs);
	free(r->disk.firmware_label);
	free(r->compress);
	strv_release(&r->default_layers);
	strv_release(&r->optional_layers);
	strv_release(&r->setup_paths);
	strv_release(&r->setup_sources);
	strv_release(&r->pins);
	for (size_t i = 0; i < r->n_layers; i++)
		recipe_layer_free(r->layers[i]);
	free(r->layers);
	free(r);
}

static inline void recipe_freep(struct recipe **r) { recipe_free(*r); }

static int parse_disk(struct ctx *c, json_t *root, struct recipe_disk *d)
{
	static const char *const keys[] = {"size", "table", "root_label", "root_fs", "firmware_size",
					   "firmware_label", NULL};
	json_t *disk = json_object_get(root, "disk");
	int r;

	if (!disk)
		return fail(c, "disk", "missing (required)");
	if (!json_is_object(disk))
		return fail(c, "disk", "expected an object, got %s", type_name(disk));
	if ((r = check_keys(c, "disk", disk, keys)) < 0 ||
	    (r = get_size(c, "disk", disk, "size", &d->size)) < 0 ||
	    (r = get_str(c, "disk", disk, "table", false, &d->table)) < 0 ||
	    (r = get_str(c, "disk", disk, "root_label", false, &d->root_label)) < 0 ||
	    (r = get_str(c, "disk", disk, "root_fs", false, &d->root_fs)) < 0 ||
	    (r = get_size(c, "disk", disk, "firmware_size", &d->firmware_size)) < 0 ||
	    (r = get_str(c, "disk", disk, "firmware_label", false, &d->firmware_label)) < 0)
		return r;
	if (d->size < (256ULL << 20))
		return fail(c, "disk.size", "must be at least 256M");
	if (!d->table)
		d->table = xstrdup("mbr");
	if (strcmp(d->table, "mbr") != 0)
		return fail(c, "disk.table", "'%s' is not supported (supported: \"mbr\")", d->table);
	if (!d->root_fs)
		d->root_fs = xstrdup("ext4");
	if (strcmp(d->root_fs, "ext4") != 0)
		return fail(c, "disk.root_fs", "'%s' is not supported (supported: \"ext4\")", d->root_fs);
	if (!d->root_label)
		d->root_label = xstrdup("ROOT");
	if (!valid_label(d->root_label, 16))
		return fail(c, "disk.root_label", "'%s' is not an ext4 label (1 to 16 letters, digits, '_' or '-')",
			    d->root_label);
	if (d->size > (2ULL << 40))
		return fail(c, "disk.size", "must be at most 2T (an MBR disk)");
	if (d->firmware_size && !d->firmware_label)
		d->firmware_label = xstrdup("FIRMWARE");
	if (d->firmware_label && !valid_label(d->firmware_label, 11))
		return fail(c, "disk.firmware_label", "'%s' is not a FAT label (1 to 11 letters, digits, '_' or '-')",
			    d->firmware_label);
	/* The root partition needs room after the firmware one. */
	if (d->firmware_size && d->firmware_size + (256ULL << 20) > d->size)
		return fail(c, "disk.firmware_size", "leaves less than 256M of the %llu-byte disk for the "
			    "root file system", (unsigned long long)d->size);
	return 0;
}

static bool valid_component(const char *s)
{
	return !strcmp(s, "main") || !strcmp(s, "contrib") || !strcmp(s, "non-free") ||
	       !strcmp(s, "non-free-firmware");
}

static bool valid_suite_name(const char *s)
{
	return valid_name(s);
}

/* "setup_files": {"etc/default/raspi-firmware": "rpi/etc/default/raspi-firmware"}:
 * a path in the image and a file under overlays/, there before apt runs. */
static int parse_setup_files(struct ctx *c, json_t *root, struct recipe *rec)
{
	json_t *obj = json_object_get(root, "setup_files"), *v;
	const char *key;

	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return fail(c, "setup_files", "expected an object mapping image paths to files under "
					      "overlays/, got %s", type_name(obj));
	json_object_foreach(obj, key, v) {
		_cleanup_free_ char *p = xasprintf("setup_files.%s", key);
		if (!json_is_string(v))
			return fail(c, p, "expected a string (a file under overlays/), got %s", type_name(v));
		const char *src = json_string_value(v);
		if (key[0] == '/' || strstr(key, "..") || !key[0] || strchr(key, '\'') || strchr(key, ' '))
			return fail(c, p, "'%s' must be a relative path in the image, without '..', quotes "
					  "or spaces", key);
		if (src[0] == '/' || strstr(src, "..") || !src[0])
			return fail(c, p, "'%s' must be a file under overlays/", src);
		const char *slash = strrchr(c->dir, '/');
		char *host = slash ? xasprintf("%.*s/overlays/%s", (int)(slash - c->dir), c->dir, src)
				   : xasprintf("overlays/%s", src);
		struct stat st;
		if (stat(host, &st) < 0 || !S_ISREG(st.st_mode)) {
			int r = fail(c, p, "file '%s' does not exist", host);
			free(host);
			return r;
		}
		strv_push(&rec->setup_paths, key);
		strv_push_take(&rec->setup_sources, host);
	}
	return 0;
}

static bool valid_compress(const char *s)
{
	return !strcmp(s, "gzip") || !strcmp(s, "zstd") || !strcmp(s, "xz");
}

/* Adds NAME and, first, what it requires, depth first. */
static int resolve(struct ctx *c, const char *dir, struct recipe *rec, const char *name,
		   const struct strv *without, struct strv *visiting, const char *needed_by,
		   char *err, size_t errlen)
{
	for (size_t i = 0; i < rec->n_layers; i++)
		if (strcmp(rec->layers[i]->name, name) == 0)
			return 0;
	if (strv_contains(visiting, name)) {
		_cleanup_free_ char *cycle = xstrdup(name);
		for (size_t i = visiting->n; i-- > 0;) {
			char *n = xasprintf("%s -> %s", visiting->v[i], cycle);
			free(cycle);
			cycle = n;
			if (strcmp(visiting->v[i], name) == 0)
				break;
		}
		return fail(c, "layers", "the layers require each other in a cycle: %s", cycle);
	}
	if (without && strv_contains(without, name))
		return fail(c, "layers", "layer '%s' requires '%s', which --without leaves out", needed_by,
			    name);

	struct recipe_layer *l = NULL;
	int r = recipe_layer_load(dir, name, &l, err, errlen);
	if (r < 0)
		return r;
	strv_push(visiting, name);
	for (size_t i = 0; i < l->requires.n; i++) {
		r = resolve(c, dir, rec, l->requires.v[i], without, visiting, name, err, errlen);
		if (r < 0) {
			recipe_layer_free(l);
			return r;
		}
	}
	free(visiting->v[--visiting->n]);
	visiting->v[visiting->n] = NULL;
	rec->layers = xrealloc(rec->layers, (rec->n_layers + 1) * sizeof(*rec->layers));
	rec->layers[rec->n_layers++] = l;
	return 0;
}

static int choose_variant(const struct recipe *rec, struct recipe_layer *l, char *err, size_t errlen)
{
	if (l->n_variants == 0)
		return 0;
	for (size_t i = 0; i < l->n_variants; i++) {
		const struct recipe_variant *v = &l->variants[i];
		if ((v->suites.n == 0 || strv_contains(&v->suites, rec->suite)) &&
		    (v->arches.n == 0 || strv_contains(&v->arches, rec->arch))) {
			l->variant = v;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: variants: none fits Debian '%s' on %s; choose another --suite, or "
		 "leave the layer out with --without %s", l->file, rec->suite, rec->arch, l->name);
	return -MK_ERR_RECIPE;
}

/* Across the layers of one build, two artifacts may not land on the same
 * path (the second would silently replace the first) nor share a name (the
 * cache and the manifest key on it), and two apt sources may not share a
 * name (one file under sources.list.d/ and one keyring each). */
static int check_unique(const struct recipe *rec, char *err, size_t errlen)
{
	for (size_t i = 0; i < rec->n_layers; i++) {
		const struct recipe_layer *l = rec->layers[i];
		const struct recipe_variant *v = l->variant;
		for (size_t j = 0; j < l->n_artifacts; j++)
			for (size_t k = 0; k <= i; k++) {
				const struct recipe_layer *o = rec->layers[k];
				for (size_t m = 0; m < (k == i ? j : o->n_artifacts); m++) {
					const struct recipe_artifact *a = &l->artifacts[j], *b = &o->artifacts[m];
					const char *what = !strcmp(a->dest, b->dest)   ? "dest"
							   : !strcmp(a->name, b->name) ? "name"
										       : NULL;
					if (!what)
						continue;
					snprintf(err, errlen, "%s: artifacts[%zu].%s: '%s' is also the %s of artifact '%s' "
						 "in %s; each artifact needs a name and a path of its own",
						 l->file, j, what, !strcmp(what, "dest") ? a->dest : a->name, what,
						 b->name, o->file);
					return -MK_ERR_RECIPE;
				}
			}
		for (size_t j = 0; v && j < v->n_sources; j++)
			for (size_t k = 0; k <= i; k++) {
				const struct recipe_variant *ov = rec->layers[k]->variant;
				for (size_t m = 0; ov && m < (k == i ? j : ov->n_sources); m++) {
					if (strcmp(v->sources[j].name, ov->sources[m].name) != 0)
						continue;
					snprintf(err, errlen, "%s: apt_sources: '%s' is also the name of an apt source in %s; "
						 "each source needs a name of its own (it names its file in sources.list.d/)",
						 l->file, v->sources[j].name, rec->layers[k]->file);
					return -MK_ERR_RECIPE;
				}
			}
	}
	return 0;
}

int recipe_load(const char *dir, const char *target, const struct recipe_options *opts,
		struct recipe **out, char *err, size_t errlen)
{
	static const char *const keys[] = {"name", "description", "kind", "arch", "suite", "mirror",
					   "components", "check_valid_until", "packages",
					   "kernel_cmdline", "disk", "compress", "layers",
					   "optional_layers", "setup_files", NULL};
	static const struct recipe_options no_opts = {.check_valid_until = -1};
	_cleanup_free_ char *file = xasprintf("%s/%s.json", dir, target);
	struct ctx c = {.file = file, .err = err, .errlen = errlen, .dir = dir};
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(recipe_freep) struct recipe *rec = xcalloc(1, sizeof(*rec));
	int r;

	if (!opts)
		opts = &no_opts;
	if (!valid_name(target)) {
		snprintf(err, errlen, "'%s' is not a target name; 'mkmesh list' shows the targets", target);
		return -MK_ERR_USAGE;
	}
	r = load_json(&c, file, &root);
	if (r == -ENOENT) {
		snprintf(err, errlen, "no target '%s' (no file %s); 'mkmesh list' shows the targets",
			 target, file);
		return -MK_ERR_USAGE;
	}
	if (r < 0) {
		if (r != -MK_ERR_RECIPE)
			snprintf(err, errlen, "%s: %s", file, strerror(-r));
		return r;
	}
	rec->dir = xstrdup(dir);
	rec->file = xstrdup(file);
	rec->check_valid_until = true;
	if ((r = check_keys(&c, "", root, keys)) < 0 ||
	    (r = get_str(&c, "", root, "name", true, &rec->name)) < 0 ||
	    (r = get_str(&c, "", root, "description", false, &rec->description)) < 0 ||
	    (r = get_str(&c, "", root, "kind", true, &rec->kind)) < 0 ||
	    (r = get_str(&c, "", root, "arch", true, &rec->arch)) < 0 ||
	    (r = get_str(&c, "", root, "suite", true, &rec->suite)) < 0 ||
	    (r = get_str(&c, "", root, "mirror", true, &rec->mirror)) < 0 ||
	    (r = get_strv(&c, "", root, "components", &rec->components, valid_component,
			  "a Debian archive component")) < 0 ||
	    (r = get_bool(&c, "", root, "check_valid_until", &rec->check_valid_until)) < 0 ||
	    (r = get_strv(&c, "", root, "packages", &rec->packages, valid_package,
			  "a Debian package name")) < 0 ||
	    (r = get_str(&c, "", root, "kernel_cmdline", false, &rec->kernel_cmdline)) < 0 ||
	    (r = parse_disk(&c, root, &rec->disk)) < 0 ||
	    (r = get_str(&c, "", root, "compress", false, &rec->compress)) < 0 ||
	    (r = get_strv(&c, "", root, "layers", &rec->default_layers, valid_name, "a layer name")) < 0 ||
	    (r = get_strv(&c, "", root, "optional_layers", &rec->optional_layers, valid_name,
			  "a layer name")) < 0 ||
	    (r = parse_setup_files(&c, root, rec)) < 0)
		return r;
	if (strcmp(rec->name, target) != 0)
		return fail(&c, "name", "'%s' does not match the file name '%s.json'", rec->name, target);
	if (!valid_arch(rec->arch))
		return fail(&c, "arch", "'%s' is not supported (supported: \"amd64\", \"arm64\")", rec->arch);
	if (!valid_url(rec->mirror))
		return fail(&c, "mirror", "'%s' is not " URL_WANTED, rec->mirror);
	if (grammar_debian_suite(rec->suite))
		return fail(&c, "suite", "'%s' is %s", rec->suite, grammar_debian_suite(rec->suite));
	if (rec->kernel_cmdline && !valid_cmdline(rec->kernel_cmdline))
		return fail(&c, "kernel_cmdline", "'%s' holds characters a kernel command line here may not "
			    "(letters, digits, spaces and . _ - = , : / + @ only)", rec->kernel_cmdline);
	if (!rec->compress)
		rec->compress = xstrdup("gzip");
	if (!valid_compress(rec->compress))
		return fail(&c, "compress", "'%s' is not supported (supported: \"gzip\", \"zstd\", \"xz\")",
			    rec->compress);
	if (rec->components.n == 0)
		strv_push(&rec->components, "main");
	if (rec->default_layers.n == 0)
		return fail(&c, "layers", "a target needs at least one layer (\"base\")");

	/* Command-line overrides. */
	if (opts->suite) {
		free(rec->suite);
		rec->suite = xstrdup(opts->suite);
	}
	if (opts->mirror) {
		free(rec->mirror);
		rec->mirror = xstrdup(opts->mirror);
	}
	if (opts->check_valid_until >= 0)
		rec->check_valid_until = opts->check_valid_until;
	if (opts->compress) {
		if (!valid_compress(opts->compress)) {
			snprintf(err, errlen, "--compress %s: not supported (supported: gzip, zstd, xz)",
				 opts->compress);
			return -MK_ERR_USAGE;
		}
		free(rec->compress);
		rec->compress = xstrdup(opts->compress);
	}

	/* Which layers: the defaults, less --without, plus --with. */
	struct strv wanted = {0}, visiting = {0};
	if (opts->without)
		for (size_t i = 0; i < opts->without->n; i++) {
			const char *n = opts->without->v[i];
			if (!strv_contains(&rec->default_layers, n) && !strv_contains(&rec->optional_layers, n)) {
				snprintf(err, errlen, "--without %s: target '%s' has no layer '%s'", n, target, n);
				strv_release(&wanted);
				return -MK_ERR_USAGE;
			}
		}
	if (opts->with)
		for (size_t i = 0; i < opts->with->n; i++) {
			const char *n = opts->with->v[i];
			if (!strv_contains(&rec->default_layers, n) && !strv_contains(&rec->optional_layers, n)) {
				snprintf(err, errlen, "--with %s: '%s' is not a layer of target '%s'; 'mkmesh list' shows them",
					 n, n, target);
				return -MK_ERR_USAGE;
			}
		}
	for (size_t i = 0; i < rec->default_layers.n; i++)
		if (!opts->without || !strv_contains(opts->without, rec->default_layers.v[i]))
			strv_push(&wanted, rec->default_layers.v[i]);
	if (opts->with)
		for (size_t i = 0; i < opts->with->n; i++)
			if (!strv_contains(&wanted, opts->with->v[i]))
				strv_push(&wanted, opts->with->v[i]);
	for (size_t i = 0; i < wanted.n && r >= 0; i++)
		r = resolve(&c, dir, rec, wanted.v[i], opts->without, &visiting, wanted.v[i], err, errlen);
	strv_release(&wanted);
	strv_release(&visiting);
	if (r < 0)
		return r;
	/* Only optional layers may be left out. */
	if (opts->without)
		for (size_t i = 0; i < opts->without->n; i++) {
			_cleanup_(layer_freep) struct recipe_layer *l = NULL;
			if (recipe_layer_load(dir, opts->without->v[i], &l, err, errlen) < 0)
				return -MK_ERR_RECIPE;
			if (!l->optional) {
				snprintf(err, errlen, "--without %s: layer '%s' is not optional (%s)",
					 l->name, l->name, l->file);
				return -MK_ERR_USAGE;
			}
		}
	for (size_t i = 0; i < rec->n_layers; i++) {
		struct recipe_layer *l = rec->layers[i];
		if ((r = choose_variant(rec, l, err, errlen)) < 0)
			return r;
		size_t w = 0;
		for (size_t j = 0; j < l->n_artifacts; j++) {
			struct recipe_artifact *a = &l->artifacts[j];
			if (a->arch && strcmp(a->arch, rec->arch) != 0) {
				free(a->name), free(a->url), free(a->sha256), free(a->dest), free(a->arch);
				free(a->sig_url), free(a->sig_key), free(a->sig_key_url), free(a->sig_fingerprint);
				continue;
			}
			l->artifacts[w++] = *a;
		}
		l->n_artifacts = w;
	}
	if ((r = check_unique(rec, err, errlen)) < 0)
		return r;
	*out = TAKE_PTR(rec);
	return 0;
}

size_t recipe_apt_sources(const struct recipe *r, const struct recipe_apt_source **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_layers; i++) {
		const struct recipe_variant *v = r->layers[i]->variant;
		for (size_t j = 0; v && j < v->n_sources && n < max; j++)
			out[n++] = &v->sources[j];
	}
	return n;
}

static void add_unique(struct strv *out, const struct strv *in)
{
	for (size_t i = 0; i < in->n; i++)
		if (!strv_contains(out, in->v[i]))
			strv_push(out, in->v[i]);
}

void recipe_all_packages(const struct recipe *r, struct strv *out)
{
	add_unique(out, &r->packages);
	for (size_t l = 0; l < r->n_layers; l++) {
		add_unique(out, &r->layers[l]->packages);
		if (r->layers[l]->variant)
			add_unique(out, &r->layers[l]->variant->packages);
	}
	strv_sort(out);
}

static int list_json(const char *dir, struct strv *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".json") == 0)
			strv_push_take(out, strndup(de->d_name, n - 5));
	}
	closedir(d);
	strv_sort(out);
	return 0;
}

int recipe_list(const char *dir, struct strv *targets, struct strv *layers)
{
	_cleanup_free_ char *ldir = xasprintf("%s/layers", dir);
	int r = list_json(dir, targets);
	if (r < 0)
		return r;
	return list_json(ldir, layers);
}
