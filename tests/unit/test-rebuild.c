/* SPDX-License-Identifier: GPL-3.0-or-later */
/* --from-manifest: a manifest read back, the layer options it gives, and
 * the comparison of installed packages with it, with exact messages. */
#include "rebuild.h"
#include "tests.h"
#include "util.h"

static char path[256];

static void put(const char *text)
{
	snprintf(path, sizeof(path), "/tmp/mkmesh-test-rebuild-%d.json", (int)getpid());
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

#define HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* A manifest with SUITE and MIRROR (JSON values) and EXTRA members. */
static void put_with(const char *suite, const char *mirror, const char *extra)
{
	char *text = xasprintf("{\"target\": \"droplet\", \"version\": \"1.0\", \"arch\": \"amd64\", "
			       "\"suite\": %s, \"mirror\": %s, \"source_date_epoch\": 1700000000, "
			       "\"layers\": [{\"name\": \"base\"}, {\"name\": \"cjdns\"}], "
			       "\"image\": {\"compression\": \"gzip\", \"sha256\": \"" HASH "\"}, %s}",
			       suite, mirror, extra);
	put(text);
	free(text);
}
#define MANIFEST(extra)                                                                        \
	"{\"target\": \"droplet\", \"version\": \"1.0\", \"arch\": \"amd64\", \"suite\": \"trixie\"," \
	" \"mirror\": \"http://deb.debian.org/debian\", \"source_date_epoch\": 1700000000,"        \
	" \"layers\": [{\"name\": \"base\"}, {\"name\": \"cjdns\"}],"                               \
	" \"image\": {\"compression\": \"gzip\", \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}," extra "}"

TEST(load_sorts_packages)
{
	struct rebuild rb;
	char err[1024];
	put(MANIFEST("\"packages\": [{\"name\": \"zsh\", \"version\": \"5\", \"arch\": \"amd64\"},"
		     " {\"name\": \"bash\", \"version\": \"1:5.2-1\", \"arch\": \"amd64\"}],"
		     " \"artifacts\": [{\"layer\": \"cjdns\", \"name\": \"cjdroute\", \"url\": \"http://x/c\","
		     " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}]"));
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), 0);
	ASSERT_EQ(rb.n_packages, 2);
	ASSERT_STREQ(rb.packages[0].name, "bash");
	ASSERT_STREQ(rb.packages[0].version, "1:5.2-1");
	ASSERT_EQ(rb.n_artifacts, 1);
	ASSERT_EQ(rb.layers.n, 2);
	ASSERT_EQ(rb.source_date_epoch, 1700000000);
	ASSERT_STREQ(rb.compress, "gzip");
	rebuild_release(&rb);
	unlink(path);
}

TEST(load_refuses_a_bad_version)
{
	struct rebuild rb;
	char err[1024];
	put(MANIFEST("\"packages\": [{\"name\": \"bash\", \"version\": \"5\\nPin: x\"}]"));
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_TRUE(strstr(err, ": packages[0].version: not a Debian version") != NULL);
	rebuild_release(&rb);
	put("{\"target\": \"droplet\"}");
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_TRUE(strstr(err, ": arch: missing or not a string") != NULL);
	rebuild_release(&rb);
	unlink(path);
}

/* A manifest that is not a small regular file is refused before it is read. */
TEST(load_refuses_what_is_not_a_file)
{
	struct rebuild rb;
	char err[1024];
	ASSERT_EQ(rebuild_load("/dev/zero", &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_STREQ(err, "/dev/zero: cannot read: not a regular file");
	rebuild_release(&rb);
}

/* A manifest is outside input: every value that reaches a file name, a URL,
 * apt or a tool's arguments is checked by its grammar when it is loaded, and
 * the error names the file and the JSON path. */
TEST(load_refuses_hostile_values)
{
	static const struct {
		const char *json, *where;
	} cases[] = {
		{"\"packages\": [{\"name\": \"linux-image-amd64\", \"version\": \"6.12$(id>x)\"}]",
		 ": packages[0].version: not a Debian version"},
		{"\"packages\": [{\"name\": \"bash`id`\", \"version\": \"5\"}]",
		 ": packages[0].name: not a Debian package name"},
		{"\"packages\": [{\"name\": \"bash\", \"version\": \"5\", \"arch\": \"amd64;id\"}]",
		 ": packages[0].arch: not a Debian architecture"},
		{"\"packages\": [{\"name\": \"bash\", \"version\": \"5\\u0085Pin: x\"}]",
		 ": packages[0].version: not a Debian version"},
		{"\"packages\": [{\"name\": \"bash\", \"version\": \"5\"}], \"artifacts\": [{\"layer\": \"cjdns\","
		 " \"name\": \"cjdroute\", \"url\": \"http://x/c\", \"sha256\": \"../../x\"}]",
		 ": artifacts[0].sha256: not a sha256"},
		{"\"packages\": [{\"name\": \"bash\", \"version\": \"5\"}], \"artifacts\": [{\"layer\": \"cjdns\","
		 " \"name\": \"cjdroute\", \"url\": \"file:///etc/passwd\", \"sha256\": \"" HASH "\"}]",
		 ": artifacts[0].url: not an http:// or https:// URL"},
		{"\"packages\": [{\"name\": \"bash\", \"version\": \"5\"}], \"artifacts\": [{\"layer\": \"cjdns\","
		 " \"name\": \"../cjdroute\", \"url\": \"http://x/c\", \"sha256\": \"" HASH "\"}]",
		 ": artifacts[0].name: not a plain file name"},
	};
	struct rebuild rb;
	char err[1024];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put_with("\"trixie\"", "\"http://deb.debian.org/debian\"", cases[i].json);
		ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
		if (!strstr(err, cases[i].where) || strncmp(err, path, strlen(path)) != 0)
			FAIL_AT("case %zu: '%s' does not say '%s'", i, err, cases[i].where);
		rebuild_release(&rb);
	}
	/* The top-level values: suite into the cache's file names, mirror into
	 * the image's sources.list. */
	put_with("\"../../x\"", "\"http://deb.debian.org/debian\"", "\"packages\": []");
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_TRUE(strstr(err, ": suite: not a Debian suite") != NULL);
	rebuild_release(&rb);
	put_with("\"trixie\"", "\"http://deb.debian.org/debian\\ndeb http://evil/ x main\"", "\"packages\": []");
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_TRUE(strstr(err, ": mirror: not an http:// or https:// URL") != NULL);
	rebuild_release(&rb);
	unlink(path);
}

TEST(layer_options_and_target_check)
{
	struct rebuild rb;
	char err[1024];
	put(MANIFEST("\"packages\": [{\"name\": \"bash\", \"version\": \"5\"}]"));
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), 0);
	struct recipe r = {.name = "droplet", .arch = "amd64", .file = "recipes/droplet.json"};
	strv_push(&r.default_layers, "base");
	strv_push(&r.default_layers, "matrix");
	strv_push(&r.optional_layers, "cjdns");
	strv_push(&r.optional_layers, "yggdrasil");
	struct strv with = {0}, without = {0};
	ASSERT_EQ(rebuild_layer_options(&rb, &r, &with, &without, err, sizeof(err)), 0);
	ASSERT_EQ(with.n, 2);
	ASSERT_STREQ(with.v[1], "cjdns");
	ASSERT_EQ(without.n, 2);
	ASSERT_STREQ(without.v[0], "matrix");
	ASSERT_STREQ(without.v[1], "yggdrasil");
	r.arch = "arm64";
	ASSERT_EQ(rebuild_layer_options(&rb, &r, &with, &without, err, sizeof(err)), -MK_ERR_USAGE);
	ASSERT_TRUE(strstr(err, "is the manifest of an amd64 image; target 'droplet' (recipes/droplet.json) builds arm64 only") != NULL);
	r.name = "rpi";
	ASSERT_EQ(rebuild_layer_options(&rb, &r, &with, &without, err, sizeof(err)), -MK_ERR_USAGE);
	ASSERT_TRUE(strstr(err, "is the manifest of a 'droplet' image, not of a 'rpi' one") != NULL);
	strv_release(&with);
	strv_release(&without);
	strv_release(&r.default_layers);
	strv_release(&r.optional_layers);
	rebuild_release(&rb);
	unlink(path);
}

TEST(check_packages_lists_differences)
{
	struct rebuild rb;
	char err[2048];
	put(MANIFEST("\"packages\": [{\"name\": \"aa\", \"version\": \"1\"}, {\"name\": \"bb\", \"version\": \"2\"},"
		     " {\"name\": \"cc\", \"version\": \"3\"}]"));
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), 0);
	struct compose_package same[] = {{"aa", "1", "amd64", NULL}, {"bb", "2", "all", NULL}, {"cc", "3", "amd64", NULL}};
	ASSERT_EQ(rebuild_check_packages(&rb, same, 3, "http://m", err, sizeof(err)), 0);
	struct compose_package other[] = {{"aa", "1", "amd64", NULL}, {"bb", "2.1", "all", NULL}, {"dd", "4", "amd64", NULL}};
	ASSERT_EQ(rebuild_check_packages(&rb, other, 3, "http://m", err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "(3 differ):\n  bb: the manifest has 2, the mirror gave 2.1\n"
				"  cc 3: not installed\n  dd 4: installed, not in the manifest\n") != NULL);
	ASSERT_TRUE(strstr(err, "--mirror https://snapshot.debian.org/archive/debian/20231114T221320Z/ "
				"--no-check-valid-until") != NULL);
	rebuild_release(&rb);
	unlink(path);
}
