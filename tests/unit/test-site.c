/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The site file as deploy reads it: the rules of the built-in schema (the
 * machine's), the problems named with file and field, the corpus in
 * tests/fixtures/site/ on which deploy's check and the machine's own
 * (overlays/base/usr/lib/mkmesh/site, run here with the host's python3) must
 * agree word for word, and the cloud-init user-data (the site file as ASCII
 * JSON in a block scalar, keys as quoted scalars).
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests.h"
#include "site.h"
#include "util.h"

#define CORPUS "tests/fixtures/site"
#define MACHINE_CHECK "overlays/base/usr/lib/mkmesh/site"
#define TOKEN_PART "0123456789abcdef" /* in every token of the corpus */

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/mkmesh-test-site.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

/* Every bad file of the corpus and the JSON path its first problem names
 * ("" for the document, NULL when the JSON parser refuses it: json-*). */
static const struct {
	const char *file, *key;
} bad[] = {
	/* What deploy used to accept and the machine refused. */
	{"token-null", "digitalocean_token"},
	{"email-localhost", "acme_email"},
	{"user-uppercase", "admin.user"},
	{"registration-yes", "registration"},
	{"tls-letsencrypt", "tls"},
	{"port-0", "yggdrasil.listen_port"},
	{"port-65536", "yggdrasil.listen_port"},
	{"port-string", "yggdrasil.listen_port"},
	{"port-real", "yggdrasil.listen_port"},
	{"port-bool", "yggdrasil.listen_port"},
	{"peers-string", "yggdrasil.peers"},
	{"peers-http", "yggdrasil.peers[0]"},
	{"peers-number", "yggdrasil.peers[0]"},
	{"peers-space", "yggdrasil.peers[0]"},
	{"peers-quote", "yggdrasil.peers[0]"},
	{"yggdrasil-unknown", "yggdrasil.port"},
	{"yggdrasil-null", "yggdrasil"},
	{"yggdrasil-list", "yggdrasil"},
	{"admin-unknown", "admin.password"},
	{"user-empty", "admin.user"},
	{"user-space", "admin.user"},
	{"user-65", "admin.user"},
	{"user-number", "admin.user"},
	{"user-null", "admin.user"},
	{"staging-string", "acme_staging"},
	{"staging-null", "acme_staging"},
	{"registration-null", "registration"},
	{"registration-upper", "registration"},
	{"tls-null", "tls"},
	{"token-short", "digitalocean_token"},
	{"token-dash", "digitalocean_token"},
	{"token-201", "digitalocean_token"},
	{"email-no-at", "acme_email"},
	{"email-quote", "acme_email"},
	{"email-space", "acme_email"},
	{"email-unicode", "acme_email"},
	{"email-angle", "acme_email"},
	{"email-shell", "acme_email"},
	{"email-list", "acme_email"},
	/* A newline at the end, which both let through. */
	{"domain-newline", "domain"},
	{"token-newline", "digitalocean_token"},
	{"email-newline", "acme_email"},
	{"user-newline", "admin.user"},
	{"peer-newline", "yggdrasil.peers[0]"},
	{"domain-crlf", "domain"},
	/* NEL and the other line breaks and control characters. */
	{"domain-nel", "domain"},
	{"user-nel", "admin.user"},
	{"user-nel-raw", "admin.user"},
	{"email-nel", "acme_email"},
	{"token-nel", "digitalocean_token"},
	{"peer-nel", "yggdrasil.peers[0]"},
	{"registration-nel", "registration"},
	{"domain-u2028", "domain"},
	{"domain-u2029", "domain"},
	{"domain-del", "domain"},
	{"domain-tab", "domain"},
	{"domain-c1", "domain"},
	/* Domains, and what deploy refused already. */
	{"domain-upper", "domain"},
	{"domain-one-label", "domain"},
	{"domain-trailing-dot", "domain"},
	{"domain-scheme", "domain"},
	{"domain-port", "domain"},
	{"domain-underscore", "domain"},
	{"domain-hyphen", "domain"},
	{"domain-empty-label", "domain"},
	{"domain-ipv4", "domain"},
	{"domain-ipv6", "domain"},
	{"domain-numeric-tld", "domain"},
	{"domain-201", "domain"},
	{"domain-label-64", "domain"},
	{"domain-unicode", "domain"},
	{"domain-fullwidth", "domain"},
	{"domain-null", "domain"},
	{"domain-number", "domain"},
	{"domain-missing", "domain"},
	{"domain-shell", "domain"},
	{"email-missing", "acme_email"},
	{"admin-string", "admin"},
	{"admin-missing", "admin"},
	{"user-missing", "admin.user"},
	{"token-number", "digitalocean_token"},
	{"unknown-field", "colour"},
	{"unknown-field-nel", "'\\u0085'"},
	{"unknown-field-long", "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"},
	{"top-list", ""},
	{"many", "colour"},
	/* cjdns peers: the address, key, password and login grammars. */
	{"cjdns-list", "cjdns"},
	{"cjdns-unknown", "cjdns.peer"},
	{"cjdns-peers-object", "cjdns.peers"},
	{"cjdns-peer-string", "cjdns.peers[0]"},
	{"cjdns-peer-unknown", "cjdns.peers[0].publickey"},
	{"cjdns-address-missing", "cjdns.peers[0].address"},
	{"cjdns-address-hostname", "cjdns.peers[0].address"},
	{"cjdns-address-ipv6-bare", "cjdns.peers[0].address"},
	{"cjdns-address-ipv6-two-gaps", "cjdns.peers[0].address"},
	{"cjdns-address-ipv6-zone", "cjdns.peers[0].address"},
	{"cjdns-address-leading-zero", "cjdns.peers[0].address"},
	{"cjdns-address-newline", "cjdns.peers[0].address"},
	{"cjdns-address-no-port", "cjdns.peers[0].address"},
	{"cjdns-address-octet", "cjdns.peers[0].address"},
	{"cjdns-address-port-0", "cjdns.peers[0].address"},
	{"cjdns-address-port-65536", "cjdns.peers[0].address"},
	{"cjdns-address-space", "cjdns.peers[0].address"},
	{"cjdns-key-last", "cjdns.peers[0].publicKey"},
	{"cjdns-key-letter-e", "cjdns.peers[0].publicKey"},
	{"cjdns-key-missing", "cjdns.peers[0].publicKey"},
	{"cjdns-key-no-suffix", "cjdns.peers[0].publicKey"},
	{"cjdns-key-short", "cjdns.peers[0].publicKey"},
	{"cjdns-key-upper", "cjdns.peers[0].publicKey"},
	{"cjdns-login-empty", "cjdns.peers[0].login"},
	{"cjdns-login-null", "cjdns.peers[0].login"},
	{"cjdns-login-space", "cjdns.peers[0].login"},
	{"cjdns-password-missing", "cjdns.peers[0].password"},
	{"cjdns-password-nel", "cjdns.peers[0].password"},
	{"cjdns-password-number", "cjdns.peers[0].password"},
	{"cjdns-password-quote", "cjdns.peers[0].password"},
	{"cjdns-password-short", "cjdns.peers[0].password"},
	{"cjdns-password-space", "cjdns.peers[0].password"},
	{"cjdns-peername-quote", "cjdns.peers[0].peerName"},
	{"cjdns-second-bad", "cjdns.peers[1].address"},
	/* Not JSON as the checkers read it: each parser says so in its words. */
	{"json-latin1", NULL},
	{"json-deep", NULL},
	{"json-duplicate", NULL},
	{"json-duplicate-nested", NULL},
	{"json-nan", NULL},
	{"json-infinity", NULL},
	{"json-bigint", NULL},
	{"json-nul", NULL},
	{"json-nul-key", NULL},
	{"json-surrogate", NULL},
	{"json-bom", NULL},
	{"json-truncated", NULL},
	{"json-trailing", NULL},
	{"json-empty", NULL},
	{"json-raw-newline", NULL},
	{"json-comment", NULL},
};

static int bad_index(const char *name)
{
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (!strcmp(name, bad[i].file))
			return (int)i;
	return -1;
}

/* The .json files of a corpus directory, sorted, without the extension. */
static void corpus(const char *dir, struct strv *out)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n > 5 && !strcmp(e->d_name + n - 5, ".json"))
			strv_push_take(out, xasprintf("%.*s", (int)(n - 5), e->d_name));
	}
	closedir(d);
	strv_sort(out);
}

/* Deploy's check: "ok" or its problems, one a line. */
static char *deploy_check(const char *path)
{
	struct site s;
	char err[8192];
	if (site_load(&s, path, err, sizeof(err)) < 0)
		return xstrdup(err);
	site_release(&s);
	return xstrdup("ok");
}

/* The machine's check: "ok" or its problems, one a line, without the
 * priority and the last line (what to do). Exit status in *rc. */
static char *machine_check(const char *path, int *rc)
{
	int fd = memfd_create("site-check", 0);
	if (fd < 0)
		abort();
	char *argv[] = {MACHINE_CHECK, "check", "--schema-only", (char *)path, NULL};
	if (mk_run(argv, fd, rc) < 0 && *rc == 0)
		*rc = -1;
	off_t len = lseek(fd, 0, SEEK_END);
	_cleanup_free_ char *text = xcalloc(1, (size_t)len + 1);
	if (pread(fd, text, (size_t)len, 0) != len)
		abort();
	close(fd);
	if (*rc == 0)
		return xstrdup("ok");
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	if (!f)
		abort();
	const char *prefix = "<2>mkmesh-site: error: ";
	bool first = true;
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, prefix, strlen(prefix)))
			continue;
		fprintf(f, "%s%s", first ? "" : "\n", l + strlen(prefix));
		first = false;
	}
	fclose(f);
	return out;
}

TEST(schema_is_built_in_and_understood)
{
	char err[2048];
	int r = site_schema_check(err, sizeof(err));
	if (r < 0)
		FAIL_AT("%s", err);
}

TEST(domain_names)
{
	ASSERT_TRUE(site_domain_valid("example.org"));
	ASSERT_TRUE(site_domain_valid("mesh.example-1.org"));
	ASSERT_TRUE(!site_domain_valid("org"));
	ASSERT_TRUE(!site_domain_valid("Example.org"));
	ASSERT_TRUE(!site_domain_valid("example.org."));
	ASSERT_TRUE(!site_domain_valid("example.org\n"));
	ASSERT_TRUE(!site_domain_valid("example.org\xc2\x85"));
	ASSERT_TRUE(!site_domain_valid("example.org\x85"));
	ASSERT_TRUE(!site_domain_valid("https://example.org"));
	ASSERT_TRUE(!site_domain_valid("_x.example.org"));
	ASSERT_TRUE(!site_domain_valid("-a.example.org"));
	ASSERT_TRUE(!site_domain_valid("example.123"));
	ASSERT_TRUE(!site_domain_valid("a..org"));
	ASSERT_TRUE(!site_domain_valid(""));
}

TEST(text)
{
	ASSERT_TRUE(site_text_valid("ssh-ed25519 AAAA me@h\xc3\xb6st"));
	ASSERT_TRUE(!site_text_valid("ssh-ed25519 AAAA me\xc2\x85runcmd"));
	ASSERT_TRUE(!site_text_valid("ssh-ed25519 AAAA \xe2\x80\xa8"));
	ASSERT_TRUE(!site_text_valid("ssh-ed25519 AAAA \x7f"));
	ASSERT_TRUE(!site_text_valid("ssh-ed25519 AAAA \xe9t\xe9"));
}

TEST(problems_named_with_file_and_field)
{
	_cleanup_free_ char *p = write_tmp("{\"domain\": \"x\", \"acme_email\": \"a@b.org\", \"admin\": {}, \"extra\": 1}");
	struct site s;
	char err[2048];
	ASSERT_EQ(site_load(&s, p, err, sizeof(err)), -EINVAL);
	_cleanup_free_ char *want1 = xasprintf("%s: extra: unknown field (known: domain, acme_email, ", p);
	_cleanup_free_ char *want2 = xasprintf("%s: domain: 'x' is not a lower-case DNS name", p);
	_cleanup_free_ char *want3 = xasprintf("%s: admin.user: missing (required): a Matrix user name", p);
	ASSERT_TRUE(strstr(err, want1) != NULL);
	ASSERT_TRUE(strstr(err, want2) != NULL);
	ASSERT_TRUE(strstr(err, want3) != NULL);
	unlink(p);
	_cleanup_free_ char *q = write_tmp("{\"domain\": \n");
	ASSERT_EQ(site_load(&s, q, err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "not valid JSON") != NULL);
	unlink(q);
	ASSERT_EQ(site_load(&s, "/nonexistent/site.json", err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "cannot read") != NULL);
}

TEST(corpus_table_is_complete)
{
	struct strv files = {0};
	corpus(CORPUS "/bad", &files);
	ASSERT_TRUE(files.n >= 55);
	for (size_t i = 0; i < files.n; i++)
		if (bad_index(files.v[i]) < 0)
			FAIL_AT("%s/bad/%s.json is not in the table of test-site.c", CORPUS, files.v[i]);
	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		if (!strv_contains(&files, bad[i].file))
			FAIL_AT("%s/bad/%s.json is in the table but not in the corpus", CORPUS, bad[i].file);
	strv_release(&files);
}

TEST(deploy_refuses_the_bad_naming_the_key)
{
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		_cleanup_free_ char *path = xasprintf("%s/bad/%s.json", CORPUS, bad[i].file);
		_cleanup_free_ char *got = deploy_check(path);
		_cleanup_free_ char *want = !bad[i].key   ? xasprintf("%s: line ", path)
					    : *bad[i].key ? xasprintf("%s: %s: ", path, bad[i].key)
							  : xasprintf("%s: expected a JSON object at the top", path);
		if (!strcmp(got, "ok"))
			FAIL_AT("%s: accepted", path);
		if (strncmp(got, want, strlen(want)))
			FAIL_AT("%s: the first problem is \"%s\", expected it to start \"%s\"", path, got, want);
		if (!bad[i].key && !strstr(got, "not valid JSON"))
			FAIL_AT("%s: \"%s\" does not say it is not valid JSON", path, got);
		if (strstr(got, TOKEN_PART))
			FAIL_AT("%s: the token is in the message: %s", path, got);
		if (strchr(got, '\r') || strstr(got, "\xc2\x85") || strstr(got, "\xe2\x80\xa8"))
			FAIL_AT("%s: a line break in the message", path);
	}
}

TEST(deploy_accepts_the_good)
{
	struct strv files = {0};
	corpus(CORPUS "/good", &files);
	ASSERT_TRUE(files.n >= 10);
	for (size_t i = 0; i < files.n; i++) {
		_cleanup_free_ char *path = xasprintf("%s/good/%s.json", CORPUS, files.v[i]);
		_cleanup_free_ char *got = deploy_check(path);
		if (strcmp(got, "ok"))
			FAIL_AT("%s: refused: %s", path, got);
	}
	strv_release(&files);
}

/* Both checks over the whole corpus: the same verdict on every file, and the
 * same problems, word for word, once the JSON has been read. */
TEST(deploy_and_machine_agree)
{
	if (access("/usr/bin/python3", X_OK))
		FAIL_AT("/usr/bin/python3 is needed to run the machine's check (make test-deps)");
	const char *const dirs[] = {"good", "bad"};
	size_t n = 0;
	for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
		struct strv files = {0};
		_cleanup_free_ char *dir = xasprintf("%s/%s", CORPUS, dirs[d]);
		corpus(dir, &files);
		for (size_t i = 0; i < files.n; i++, n++) {
			_cleanup_free_ char *path = xasprintf("%s/%s.json", dir, files.v[i]);
			int rc;
			_cleanup_free_ char *host = deploy_check(path);
			_cleanup_free_ char *machine = machine_check(path, &rc);
			bool parse = !strncmp(files.v[i], "json-", 5);
			if (rc != 0 && rc != 1)
				FAIL_AT("%s: the machine's check exited %d: %s", path, rc, machine);
			if (!strcmp(host, "ok") != !strcmp(machine, "ok"))
				FAIL_AT("%s: deploy says \"%s\", the machine \"%s\"", path, host, machine);
			if (!parse && strcmp(host, machine))
				FAIL_AT("%s: the problems differ:\n    deploy:  %s\n    machine: %s", path, host,
					machine);
			if (strstr(machine, TOKEN_PART))
				FAIL_AT("%s: the token is in the machine's message: %s", path, machine);
		}
		strv_release(&files);
	}
	ASSERT_TRUE(n >= 75);
}

/* What is not a small regular file is refused by both, the same way,
 * without hanging on it or reading it whole. */
TEST(only_small_regular_files)
{
	char big[] = "/tmp/mkmesh-test-site-big.XXXXXX";
	int fd = mkstemp(big);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(ftruncate(fd, (2 << 20) + 1), 0);
	close(fd);
	const struct {
		const char *path, *message;
	} cases[] = {
		{"/dev/zero", "/dev/zero: cannot read: not a regular file"},
		{big, NULL},
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		int rc;
		_cleanup_free_ char *want = cases[i].message ? xstrdup(cases[i].message)
							     : xasprintf("%s: cannot read: larger than 1 MiB", big);
		_cleanup_free_ char *host = deploy_check(cases[i].path);
		_cleanup_free_ char *machine = machine_check(cases[i].path, &rc);
		ASSERT_STREQ(host, want);
		ASSERT_STREQ(machine, want);
		ASSERT_EQ(rc, 1);
	}
	unlink(big);
}

TEST(user_data)
{
	_cleanup_free_ char *p = write_tmp("{\"domain\": \"example.org\", \"acme_email\": \"a@b.org\", "
					   "\"admin\": {\"user\": \"alice\"}, "
					   "\"digitalocean_token\": \"dop_v1_0123456789abcdef\"}");
	struct site s;
	char err[2048];
	ASSERT_EQ(site_load(&s, p, err, sizeof(err)), 0);
	ASSERT_STREQ(s.domain, "example.org");
	ASSERT_STREQ(s.digitalocean_token, "dop_v1_0123456789abcdef");
	struct strv keys = {0};
	strv_push(&keys, "ssh-ed25519 AAAA\"quoted\" me@host");
	_cleanup_free_ char *ud = site_user_data(&s, &keys);
	ASSERT_TRUE(!strncmp(ud, "#cloud-config\n", 14));
	ASSERT_TRUE(strstr(ud, "ssh_authorized_keys:\n  - \"ssh-ed25519 AAAA\\\"quoted\\\" me@host\"\n") != NULL);
	ASSERT_TRUE(strstr(ud, "  - path: /etc/mkmesh/site.json\n    owner: root:root\n"
			       "    permissions: '0600'\n    content: |\n      {\n"
			       "        \"domain\": \"example.org\",\n") != NULL);
	ASSERT_TRUE(strstr(ud, "        \"digitalocean_token\": \"dop_v1_0123456789abcdef\"\n      }\n") != NULL);
	strv_release(&keys);
	site_release(&s);
	unlink(p);
}

/* YAML reads NEL, U+2028 and U+2029 as line breaks: in a value they could
 * end the block scalar and start a runcmd. site_load refuses them; the
 * user-data is ASCII even for a document that did not come through it. */
TEST(user_data_is_ascii)
{
	struct site s = {.doc = json_pack("{s:s, s:s}", "domain", "example.org",
					  "acme_email", "x\xc2\x85runcmd: [touch, /pwned]\xe2\x80\xa8")};
	ASSERT_TRUE(s.doc != NULL);
	struct strv keys = {0};
	strv_push(&keys, "ssh-ed25519 AAAA me@h\xc3\xb6st\xc2\x85");
	_cleanup_free_ char *ud = site_user_data(&s, &keys);
	for (const unsigned char *c = (const unsigned char *)ud; *c; c++)
		if (*c >= 0x80 || (*c < 0x20 && *c != '\n'))
			FAIL_AT("byte 0x%02x at %zu of the user-data", *c, (size_t)(c - (const unsigned char *)ud));
	ASSERT_TRUE(strstr(ud, "\"acme_email\": \"x\\u0085runcmd: [touch, /pwned]\\u2028\"") != NULL);
	ASSERT_TRUE(strstr(ud, "  - \"ssh-ed25519 AAAA me@h\\u00F6st\\u0085\"\n") != NULL);
	strv_release(&keys);
	site_release(&s);
}
