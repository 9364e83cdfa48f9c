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

#define MANIFEST(extra)                                                                        \
	"{\"target\": \"droplet\", \"version\": \"1.0\", \"arch\": \"amd64\", \"suite\": \"trixie\"," \
	" \"mirror\": \"http://deb.debian.org/debian\", \"source_date_epoch\": 1700000000,"        \
	" \"layers\": [{\"name\": \"base\"}, {\"name\": \"cjdns\"}],"                               \
	" \"image\": {\"compression\": \"gzip\", \"sha256\": \"ab\"}," extra "}"

TEST(load_sorts_packages)
{
	struct rebuild rb;
	char err[1024];
	put(MANIFEST("\"packages\": [{\"name\": \"zsh\", \"version\": \"5\", \"arch\": \"amd64\"},"
		     " {\"name\": \"bash\", \"version\": \"1:5.2-1\", \"arch\": \"amd64\"}],"
		     " \"artifacts\": [{\"layer\": \"cjdns\", \"name\": \"cjdroute\", \"url\": \"http://x/c\","
		     " \"sha256\": \"00\"}]"));
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
	ASSERT_TRUE(strstr(err, ": packages[0]: needs a name and a version") != NULL);
	rebuild_release(&rb);
	put("{\"target\": \"droplet\"}");
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), -MK_ERR_RECIPE);
	ASSERT_TRUE(strstr(err, ": arch: missing or not a string") != NULL);
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
	put(MANIFEST("\"packages\": [{\"name\": \"a\", \"version\": \"1\"}, {\"name\": \"b\", \"version\": \"2\"},"
		     " {\"name\": \"c\", \"version\": \"3\"}]"));
	ASSERT_EQ(rebuild_load(path, &rb, err, sizeof(err)), 0);
	struct compose_package same[] = {{"a", "1", "amd64", NULL}, {"b", "2", "all", NULL}, {"c", "3", "amd64", NULL}};
	ASSERT_EQ(rebuild_check_packages(&rb, same, 3, "http://m", err, sizeof(err)), 0);
	struct compose_package other[] = {{"a", "1", "amd64", NULL}, {"b", "2.1", "all", NULL}, {"d", "4", "amd64", NULL}};
	ASSERT_EQ(rebuild_check_packages(&rb, other, 3, "http://m", err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "(3 differ):\n  b: the manifest has 2, the mirror gave 2.1\n"
				"  c 3: not installed\n  d 4: installed, not in the manifest\n") != NULL);
	ASSERT_TRUE(strstr(err, "--mirror https://snapshot.debian.org/archive/debian/20231114T221320Z/ "
				"--no-check-valid-until") != NULL);
	rebuild_release(&rb);
	unlink(path);
}
