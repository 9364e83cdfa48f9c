/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The site file for deploy: load, check, make cloud-init user-data. */
#include <ctype.h>
#include <string.h>

#include "site.h"

/* The fields of docs/site.md; the machine refuses any other. */
static const char *const known[] = {
	"domain", "acme_email", "admin", "registration", "digitalocean_token",
	"tls", "acme_staging", "yggdrasil",
};

static bool label_ok(const char *p, size_t n, bool last)
{
	if (n < 1 || n > 63 || p[0] == '-' || p[n - 1] == '-')
		return false;
	if (last && !islower((unsigned char)p[0]))
		return false; /* a top-level label starts with a letter */
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '-'))
			return false;
	return true;
}

bool site_domain_valid(const char *d)
{
	size_t len = strlen(d), labels = 0;
	if (len < 3 || len > 200)
		return false;
	for (const char *p = d;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		if (!label_ok(p, n, !dot))
			return false;
		labels++;
		if (!dot)
			break;
		p = dot + 1;
	}
	return labels >= 2;
}

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

int site_load(struct site *s, const char *path, char *err, size_t errlen)
{
	*s = (struct site){0};
	err[0] = '\0';
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		if (je.line < 0 || (je.line == -1 && je.position == 0))
			add(err, errlen, "%s: cannot read: %s", path, je.text);
		else
			add(err, errlen, "%s: line %d column %d: not valid JSON: %s", path, je.line,
			    je.column, je.text);
		return -EINVAL;
	}
	if (!json_is_object(doc)) {
		add(err, errlen, "%s: expected a JSON object at the top", path);
		json_decref(doc);
		return -EINVAL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(doc, key, v) {
		bool ok = false;
		for (size_t i = 0; i < ELEMENTSOF(known); i++)
			ok |= !strcmp(key, known[i]);
		if (!ok)
			add(err, errlen, "%s: %s: unknown field (docs/site.md lists the fields)", path, key);
	}
	json_t *d = json_object_get(doc, "domain");
	if (!d)
		add(err, errlen, "%s: domain: missing (required): the Matrix server name, e.g. \"example.org\"",
		    path);
	else if (!json_is_string(d) || !site_domain_valid(json_string_value(d)))
		add(err, errlen, "%s: domain: not a lower-case DNS name with at least two labels "
		    "(e.g. \"example.org\"; no scheme, port, trailing dot or underscore)", path);
	json_t *e = json_object_get(doc, "acme_email");
	if (!e)
		add(err, errlen, "%s: acme_email: missing (required): the e-mail address given to "
		    "Let's Encrypt", path);
	else if (!json_is_string(e) || !strchr(json_string_value(e), '@'))
		add(err, errlen, "%s: acme_email: not an e-mail address", path);
	json_t *a = json_object_get(doc, "admin");
	if (!a)
		add(err, errlen, "%s: admin: missing (required): the first Matrix admin, "
		    "{\"user\": \"alice\"}", path);
	else if (!json_is_string(json_object_get(a, "user")))
		add(err, errlen, "%s: admin.user: missing: the admin's Matrix user name, e.g. \"alice\"",
		    path);
	json_t *t = json_object_get(doc, "digitalocean_token");
	if (t && !json_is_string(t) && !json_is_null(t))
		add(err, errlen, "%s: digitalocean_token: expected a string", path);
	if (*err) {
		json_decref(doc);
		return -EINVAL;
	}
	s->doc = doc;
	s->domain = json_string_value(d);
	s->digitalocean_token = json_string_value(t);
	return 0;
}

void site_release(struct site *s)
{
	json_decref(s->doc);
	*s = (struct site){0};
}

char *site_user_data(const struct site *s, const struct strv *keys)
{
	/* Re-serialised, so the block below starts at column 0 of the JSON;
	 * in ASCII, since cloud-init's YAML (1.1) also ends a line at U+0085,
	 * U+2028 and U+2029, which would end the block inside a value. */
	_cleanup_free_ char *json = json_dumps(s->doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	fputs("#cloud-config\n"
	      "# made by mkmesh deploy: the site file (docs/site.md) and the SSH keys\n", f);
	if (keys && keys->n) {
		fputs("ssh_authorized_keys:\n", f);
		for (size_t i = 0; i < keys->n; i++) {
			/* A JSON string is a YAML double-quoted scalar. */
			json_t *k = json_string(keys->v[i]);
			_cleanup_free_ char *q = json_dumps(k, JSON_ENCODE_ANY);
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
