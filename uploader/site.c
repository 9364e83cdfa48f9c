/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The site file for deploy: load, check, make cloud-init user-data.
 *
 * The rules are those of the machine: one schema,
 * overlays/base/usr/share/mkmesh/site-schema.json (a subset of JSON Schema),
 * read by the machine's check (/usr/lib/mkmesh/site) and by this file, which
 * walks it the same way and words every problem the same way, so that deploy
 * refuses exactly the site files the machine would refuse, before it makes
 * anything. tests/fixtures/site/ holds files both must agree on.
 */
#include <regex.h>
#include <stdint.h>
#include <string.h>

#include "site.h"

/*
 * The schema is built into mkmesh rather than looked up at run time beside
 * the recipes (options_default_recipes): deploy runs from anywhere, with or
 * without a checkout, and must check by the rules of the images this same
 * source tree builds, not by whatever a --recipes tree or an installed copy
 * holds. The assembler's .incbin needs no tool beyond the compiler (unlike
 * xxd) and no ld emulation name (unlike `ld -r -b binary`); the Makefile
 * makes site.o depend on the file, and a NUL ends it.
 */
#define SITE_SCHEMA_FILE "overlays/base/usr/share/mkmesh/site-schema.json"
__asm__(".pushsection .rodata\n"
	"site_schema_json:\n"
	".incbin \"" SITE_SCHEMA_FILE "\"\n"
	".byte 0\n"
	".popsection\n");
extern const char site_schema_json[] __attribute__((visibility("hidden")));

static void add(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *err, size_t errlen, const char *fmt, ...)
{
	size_t used = strlen(err);
	if (used + 2 >= errlen)
		return;
	if (used)
		err[used++] = '\n', err[used] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

/* ---- text: code points, as Python counts and shows them ---- */

/* The code point at *P, and P moved past it. A byte that does not start
 * valid UTF-8 (only from the command line: jansson refuses such text) is
 * one code point of its own, 0xDC00 + byte, as Python's surrogateescape. */
static uint32_t next_cp(const unsigned char **pp)
{
	const unsigned char *p = *pp;
	uint32_t c = p[0];
	int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
	if (n > 0) {
		c &= 0x3F >> n;
		for (int i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80) {
				n = -1;
				break;
			}
			c = c << 6 | (p[i] & 0x3F);
		}
	}
	if (n < 0) {
		*pp = p + 1;
		return 0xDC00 + p[0];
	}
	*pp = p + 1 + n;
	return c;
}

static size_t cp_count(const char *s)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; n++)
		next_cp(&p);
	return n;
}

/* C0, DEL, C1 (NEL is U+0085) and the Unicode line and paragraph
 * separators: YAML, shells and config files may read them as line breaks. */
static uint32_t first_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		uint32_t c = next_cp(&p);
		if (c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == 0x2028 || c == 0x2029)
			return c;
	}
	return 0;
}

/* S in single quotes, printable ASCII only (anything else as \uXXXX), at
 * most 64 code points of it: a message never carries a line break. */
static char *quote(const char *s)
{
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	fputc('\'', f);
	const unsigned char *p = (const unsigned char *)s;
	for (int n = 0; *p && n < 64; n++) {
		uint32_t c = next_cp(&p);
		if (c == '\'' || c == '\\')
			fprintf(f, "\\%c", (char)c);
		else if (c >= 0x20 && c < 0x7F)
			fputc((char)c, f);
		else if (c <= 0xFFFF)
			fprintf(f, "\\u%04x", (unsigned)c);
		else
			fprintf(f, "\\U%08x", (unsigned)c);
	}
	fputc('\'', f);
	if (*p)
		fputs("...", f);
	fclose(f);
	return out;
}

static char *join(const char *path, const char *key)
{
	bool plain = *key != '\0';
	for (const char *k = key; *k; k++)
		plain &= (*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || (*k >= '0' && *k <= '9') ||
			 *k == '_' || *k == '-';
	_cleanup_free_ char *q = plain ? NULL : quote(key);
	return *path ? xasprintf("%s.%s", path, plain ? key : q) : xstrdup(plain ? key : q);
}

static const char *jtype(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "a list";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "a whole number";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "true or false";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* ---- the schema: the keywords both checkers understand, and no other ---- */

static const struct {
	const char *type, *expect;
	const char *const keywords[4];
} types[] = {
	{"object", "an object", {"properties", "required", "additionalProperties"}},
	{"string", "a string", {"pattern", "enum", "maxLength", "writeOnly"}},
	{"integer", "a whole number", {"minimum", "maximum"}},
	{"boolean", "true or false", {NULL}},
	{"array", "a list", {"items"}},
};
static const char *const common_keywords[] = {"type", "description", "default", "$comment"};
static const char *const root_keywords[] = {"$schema", "title"};

static int type_index(const json_t *node)
{
	const char *t = json_string_value(json_object_get(node, "type"));
	for (size_t i = 0; t && i < ELEMENTSOF(types); i++)
		if (!strcmp(t, types[i].type))
			return (int)i;
	return -1;
}

static bool in_list(const char *const *list, size_t n, const char *s)
{
	for (size_t i = 0; i < n && list[i]; i++)
		if (!strcmp(list[i], s))
			return true;
	return false;
}

static bool in_json_list(const json_t *list, const char *s)
{
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return true;
	return false;
}

/* What a pattern must not use, to mean the same to regcomp and Python's re:
 * a backslash before anything but punctuation (\d, \s, \w, \b), (?...),
 * lazy quantifiers. */
static bool pattern_portable(const char *p)
{
	size_t n = strlen(p);
	if (n < 2 || p[0] != '^' || p[n - 1] != '$')
		return false;
	for (size_t i = 0; i + 1 < n; i++) {
		if (p[i] == '\\' && !strchr(".[](){}*+?^$|\\/-", p[i + 1]))
			return false;
		if (p[i] == '\\') {
			i++;
			continue;
		}
		if ((p[i] == '(' && p[i + 1] == '?') || (strchr("*+?}", p[i]) && p[i + 1] == '?'))
			return false;
	}
	return true;
}

static int schema_lint(const json_t *node, const char *where, bool root, char *err, size_t errlen)
{
#define BAD(...)                                                                           \
	do {                                                                               \
		_cleanup_free_ char *_m = xasprintf(__VA_ARGS__);                          \
		add(err, errlen, "built-in site schema (" SITE_SCHEMA_FILE "): %s: %s; mkmesh " \
		    "is broken (please report it)", *where ? where : "(top)", _m);         \
		return -EINVAL;                                                            \
	} while (0)
	int ti = json_is_object(node) ? type_index(node) : -1;
	if (ti < 0)
		BAD("expected an object with a type of object, string, integer, boolean, array");
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)node, key, v) {
		if (!in_list(types[ti].keywords, ELEMENTSOF(types[ti].keywords), key) &&
		    !in_list(common_keywords, ELEMENTSOF(common_keywords), key) &&
		    !(root && in_list(root_keywords, ELEMENTSOF(root_keywords), key)))
			BAD("keyword %s is not understood by the checkers", key);
	}
	json_t *desc = json_object_get(node, "description");
	if ((desc && !json_is_string(desc)) || (!root && !desc))
		BAD("expected a description");
	const char *t = types[ti].type;
	if (!strcmp(t, "object")) {
		json_t *props = json_object_get(node, "properties"), *req = json_object_get(node, "required");
		if (!json_is_object(props) || !json_is_false(json_object_get(node, "additionalProperties")))
			BAD("an object needs properties and \"additionalProperties\": false");
		size_t i;
		json_t *r;
		if (req && !json_is_array(req))
			BAD("required names a field that is not in properties");
		json_array_foreach(req, i, r)
			if (!json_is_string(r) || !json_object_get(props, json_string_value(r)))
				BAD("required names a field that is not in properties");
		json_object_foreach(props, key, v) {
			_cleanup_free_ char *sub = *where ? xasprintf("%s.%s", where, key) : xstrdup(key);
			int e = schema_lint(v, sub, false, err, errlen);
			if (e < 0)
				return e;
		}
	} else if (!strcmp(t, "array")) {
		_cleanup_free_ char *sub = xasprintf("%s[]", where);
		return schema_lint(json_object_get(node, "items"), sub, false, err, errlen);
	} else if (!strcmp(t, "string")) {
		json_t *p = json_object_get(node, "pattern"), *en = json_object_get(node, "enum");
		if (p && (!json_is_string(p) || !pattern_portable(json_string_value(p))))
			BAD("a pattern is anchored ^...$ and in the subset of POSIX ERE and Python re");
		regex_t re;
		if (p && regcomp(&re, json_string_value(p), REG_EXTENDED | REG_NOSUB))
			BAD("the pattern does not compile");
		if (p)
			regfree(&re);
		size_t i;
		json_t *e;
		if (en && !json_is_array(en))
			BAD("enum is a list of strings");
		json_array_foreach(en, i, e)
			if (!json_is_string(e))
				BAD("enum is a list of strings");
		json_t *ml = json_object_get(node, "maxLength"), *wo = json_object_get(node, "writeOnly");
		if ((ml && !json_is_integer(ml)) || (wo && !json_is_boolean(wo)))
			BAD("maxLength is a number, writeOnly true or false");
	} else if (!strcmp(t, "integer")) {
		json_t *mn = json_object_get(node, "minimum"), *mx = json_object_get(node, "maximum");
		if ((mn && !json_is_integer(mn)) || (mx && !json_is_integer(mx)))
			BAD("minimum and maximum are whole numbers");
	}
	return 0;
#undef BAD
}

static json_t *schema_load(char *err, size_t errlen)
{
	json_error_t je;
	json_t *schema = json_loads(site_schema_json, JSON_REJECT_DUPLICATES, &je);
	if (!schema) {
		add(err, errlen, "built-in site schema (" SITE_SCHEMA_FILE "): line %d: %s; mkmesh is "
		    "broken (please report it)", je.line, je.text);
		return NULL;
	}
	if (schema_lint(schema, "", true, err, errlen) < 0) {
		json_decref(schema);
		return NULL;
	}
	return schema;
}

/* ---- the check: the same walk as the machine's, word for word ---- */

struct check {
	const char *file;
	char *err;
	size_t errlen;
};

/* A string against NODE: NULL when it is one, else the problem (malloc'd),
 * after "PATH: ". */
static char *check_string(const json_t *node, const char *s)
{
	const char *what = json_string_value(json_object_get(node, "description"));
	uint32_t c = first_control(s);
	if (c)
		return xasprintf("contains the control character U+%04X (no line breaks or other control "
				 "characters in a site file)", (unsigned)c);
	_cleanup_free_ char *shown = json_is_true(json_object_get(node, "writeOnly"))
					     ? xstrdup("(secret, not shown)")
					     : quote(s);
	json_t *ml = json_object_get(node, "maxLength"), *en = json_object_get(node, "enum");
	json_t *pat = json_object_get(node, "pattern");
	if (ml && cp_count(s) > (size_t)json_integer_value(ml))
		return xasprintf("%s is not %s", shown, what);
	if (en && !in_json_list(en, s)) {
		char *out = NULL;
		size_t outlen = 0;
		FILE *f = open_memstream(&out, &outlen);
		if (!f)
			abort();
		fprintf(f, "%s is not one of ", shown);
		size_t i;
		json_t *e;
		json_array_foreach(en, i, e)
			fprintf(f, "%s%s", i ? ", " : "", json_string_value(e));
		fclose(f);
		return out;
	}
	if (pat) {
		regex_t re;
		if (regcomp(&re, json_string_value(pat), REG_EXTENDED | REG_NOSUB))
			return xasprintf("%s cannot be checked (the schema's pattern does not compile)", shown);
		int m = regexec(&re, s, 0, NULL, 0);
		regfree(&re);
		if (m)
			return xasprintf("%s is not %s", shown, what);
	}
	return NULL;
}

static void check_node(struct check *c, const json_t *node, const json_t *v, const char *path, bool optional)
{
	const char *t = types[type_index(node)].type;
	bool ok = !strcmp(t, "object")    ? json_is_object(v)
		  : !strcmp(t, "string")  ? json_is_string(v)
		  : !strcmp(t, "integer") ? json_is_integer(v)
		  : !strcmp(t, "boolean") ? json_is_boolean(v)
					  : json_is_array(v);
	if (!ok) {
		add(c->err, c->errlen, "%s: %s: expected %s, got %s%s", c->file, path,
		    types[type_index(node)].expect, jtype(v),
		    json_is_null(v) && optional ? " (to leave it unset, leave the field out)" : "");
		return;
	}
	const char *what = json_string_value(json_object_get(node, "description"));
	if (!strcmp(t, "string")) {
		_cleanup_free_ char *problem = check_string(node, json_string_value(v));
		if (problem)
			add(c->err, c->errlen, "%s: %s: %s", c->file, path, problem);
	} else if (!strcmp(t, "integer")) {
		json_int_t n = json_integer_value(v);
		json_t *mn = json_object_get(node, "minimum"), *mx = json_object_get(node, "maximum");
		if ((mn && n < json_integer_value(mn)) || (mx && n > json_integer_value(mx)))
			add(c->err, c->errlen, "%s: %s: %" JSON_INTEGER_FORMAT " is not %s", c->file, path, n, what);
	} else if (!strcmp(t, "object")) {
		json_t *props = json_object_get(node, "properties"), *req = json_object_get(node, "required");
		const char *key;
		json_t *sub;
		json_object_foreach((json_t *)v, key, sub) {
			if (json_object_get(props, key))
				continue;
			_cleanup_free_ char *p = join(path, key);
			char *known = NULL;
			size_t knownlen = 0;
			FILE *f = open_memstream(&known, &knownlen);
			if (!f)
				abort();
			const char *k;
			json_t *ignored;
			bool first = true;
			json_object_foreach(props, k, ignored) {
				fprintf(f, "%s%s", first ? "" : ", ", k);
				first = false;
			}
			fclose(f);
			add(c->err, c->errlen, "%s: %s: unknown field (known: %s)", c->file, p, known);
			free(known);
		}
		json_object_foreach(props, key, sub) {
			_cleanup_free_ char *p = join(path, key);
			json_t *x = json_object_get(v, key);
			bool required = in_json_list(req, key);
			if (x)
				check_node(c, sub, x, p, !required);
			else if (required)
				add(c->err, c->errlen, "%s: %s: missing (required): %s", c->file, p,
				    json_string_value(json_object_get(sub, "description")));
		}
	} else if (!strcmp(t, "array")) {
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			_cleanup_free_ char *p = xasprintf("%s[%zu]", path, i);
			check_node(c, json_object_get(node, "items"), item, p, false);
		}
	}
}

bool site_text_valid(const char *s)
{
	json_t *j = json_string(s); /* NULL when S is not UTF-8 */
	bool utf8 = j != NULL;
	json_decref(j);
	return utf8 && !first_control(s);
}

bool site_domain_valid(const char *d)
{
	char err[1024] = "";
	json_t *schema = schema_load(err, sizeof(err));
	if (!schema)
		return false;
	json_t *node = json_object_get(json_object_get(schema, "properties"), "domain");
	_cleanup_free_ char *problem = check_string(node, d);
	json_decref(schema);
	return !problem;
}

int site_schema_check(char *err, size_t errlen)
{
	err[0] = '\0';
	json_t *schema = schema_load(err, errlen);
	json_decref(schema);
	return schema ? 0 : -EINVAL;
}

int site_load(struct site *s, const char *path, char *err, size_t errlen)
{
	*s = (struct site){0};
	err[0] = '\0';
	json_t *schema = schema_load(err, errlen);
	if (!schema)
		return -EINVAL;
	json_error_t je;
	json_t *doc = mk_json_load_regular(path, 1 << 20, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		if (je.line < 0 || (je.line == -1 && je.position == 0))
			add(err, errlen, "%s: cannot read: %s", path, je.text);
		else
			add(err, errlen, "%s: line %d column %d: not valid JSON: %s", path, je.line,
			    je.column, je.text);
		json_decref(schema);
		return -EINVAL;
	}
	if (!json_is_object(doc))
		add(err, errlen, "%s: expected a JSON object at the top, got %s", path, jtype(doc));
	else
		check_node(&(struct check){path, err, errlen}, schema, doc, "", false);
	json_decref(schema);
	if (*err) {
		json_decref(doc);
		return -EINVAL;
	}
	s->doc = doc;
	s->domain = json_string_value(json_object_get(doc, "domain"));
	s->digitalocean_token = json_string_value(json_object_get(doc, "digitalocean_token"));
	return 0;
}

void site_release(struct site *s)
{
	json_decref(s->doc);
	*s = (struct site){0};
}

char *site_user_data(const struct site *s, const struct strv *keys)
{
	/* Re-serialised, so the block below starts at column 0 of the JSON, and
	 * ASCII only: YAML reads NEL (U+0085), U+2028 and U+2029 as line breaks,
	 * so such a character in a value could end the block scalar and start
	 * a key of its own (a runcmd). Escaped, it stays inside its JSON string. */
	_cleanup_free_ char *json = json_dumps(s->doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f || !json)
		abort();
	fputs("#cloud-config\n"
	      "# made by mkmesh (deploy, seed): the site file (docs/site.md) and the SSH keys\n", f);
	if (keys && keys->n) {
		fputs("ssh_authorized_keys:\n", f);
		for (size_t i = 0; i < keys->n; i++) {
			/* A JSON string in ASCII is a YAML double-quoted scalar. */
			json_t *k = json_string(keys->v[i]);
			_cleanup_free_ char *q = k ? json_dumps(k, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
			if (!q)
				abort(); /* a key that is not UTF-8 is refused when it is read */
			fprintf(f, "  - %s\n", q);
			json_decref(k);
		}
	}
	fputs("write_files:\n"
	      "  - path: /etc/mkmesh/site.json\n"
	      "    owner: root:root\n"
	      "    permissions: '0600'\n"
	      "    content: |\n", f);
	for (const char *p = json; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "      %.*s\n", (int)n, p);
		p += n + (nl ? 1 : 0);
	}
	fclose(f);
	explicit_bzero(json, strlen(json));
	return out;
}
