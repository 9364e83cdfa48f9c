/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The site file as deploy reads it: domain names the machine accepts, the
 * problems named with file and field, and the cloud-init user-data (the site
 * file verbatim as JSON in a block scalar, keys as quoted scalars).
 */
#include <string.h>
#include <unistd.h>

#include "tests.h"
#include "site.h"
#include "util.h"

static char *write_tmp(const char *text)
{
	char *path = xstrdup("/tmp/mkmesh-test-site.XXXXXX");
	int fd = mkstemp(path);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		abort();
	close(fd);
	return path;
}

TEST(domain_names)
{
	ASSERT_TRUE(site_domain_valid("example.org"));
	ASSERT_TRUE(site_domain_valid("mesh.example-1.org"));
	ASSERT_TRUE(!site_domain_valid("org"));
	ASSERT_TRUE(!site_domain_valid("Example.org"));
	ASSERT_TRUE(!site_domain_valid("example.org."));
	ASSERT_TRUE(!site_domain_valid("https://example.org"));
	ASSERT_TRUE(!site_domain_valid("_x.example.org"));
	ASSERT_TRUE(!site_domain_valid("-a.example.org"));
	ASSERT_TRUE(!site_domain_valid("example.123"));
	ASSERT_TRUE(!site_domain_valid("a..org"));
}

TEST(problems_named_with_file_and_field)
{
	_cleanup_free_ char *p = write_tmp("{\"domain\": \"x\", \"acme_email\": \"a@b.org\", \"admin\": {}, \"extra\": 1}");
	struct site s;
	char err[2048];
	ASSERT_EQ(site_load(&s, p, err, sizeof(err)), -EINVAL);
	_cleanup_free_ char *want1 = xasprintf("%s: extra: unknown field", p);
	_cleanup_free_ char *want2 = xasprintf("%s: domain: not a lower-case DNS name", p);
	_cleanup_free_ char *want3 = xasprintf("%s: admin.user: missing", p);
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

TEST(user_data)
{
	_cleanup_free_ char *p = write_tmp("{\"domain\": \"example.org\", \"acme_email\": \"a@b.org\", "
					   "\"admin\": {\"user\": \"alice\"}, \"digitalocean_token\": \"dop_v1_x\"}");
	struct site s;
	char err[2048];
	ASSERT_EQ(site_load(&s, p, err, sizeof(err)), 0);
	ASSERT_STREQ(s.domain, "example.org");
	ASSERT_STREQ(s.digitalocean_token, "dop_v1_x");
	struct strv keys = {0};
	strv_push(&keys, "ssh-ed25519 AAAA\"quoted\" me@host");
	_cleanup_free_ char *ud = site_user_data(&s, &keys);
	ASSERT_TRUE(!strncmp(ud, "#cloud-config\n", 14));
	ASSERT_TRUE(strstr(ud, "ssh_authorized_keys:\n  - \"ssh-ed25519 AAAA\\\"quoted\\\" me@host\"\n") != NULL);
	ASSERT_TRUE(strstr(ud, "  - path: /etc/mkmesh/site.json\n    owner: root:root\n"
			       "    permissions: '0600'\n    content: |\n      {\n"
			       "        \"domain\": \"example.org\",\n") != NULL);
	ASSERT_TRUE(strstr(ud, "        \"digitalocean_token\": \"dop_v1_x\"\n      }\n") != NULL);
	strv_release(&keys);
	site_release(&s);
	unlink(p);
}
