/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recipe loading: good recipes, each kind of bad one with its exact message,
 * and the order layers come in. Each test writes its own recipe tree. */
#include <sys/stat.h>

#include "recipe.h"
#include "tests.h"
#include "util.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mk_mkdir_p(path, 0755);
	*slash = '/';
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

#define TARGET(layers, extra)                                                              \
	"{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"trixie\"," \
	" \"mirror\": \"http://deb.debian.org/debian\", \"disk\": {\"size\": \"1G\"},"        \
	" \"layers\": " layers extra "}"

/* A fresh tree: layers a <- b <- c (c requires b, b requires a), optional d. */
static void fresh_tree(void)
{
	snprintf(root, sizeof(root), "/tmp/mkmesh-test-recipe-%d", (int)getpid());
	mk_rm_rf(root);
	mkdir(root, 0755);
	put("recipes/t.json", TARGET("[\"c\", \"a\"]", ", \"optional_layers\": [\"d\"]"));
	put("recipes/layers/a.json", "{\"name\": \"a\", \"packages\": [\"openssh-server\", \"sudo\"]}");
	put("recipes/layers/b.json", "{\"name\": \"b\", \"requires\": [\"a\"], \"packages\": [\"sudo\", \"nginx\"]}");
	put("recipes/layers/c.json", "{\"name\": \"c\", \"requires\": [\"b\"], \"optional\": true}");
	put("recipes/layers/d.json", "{\"name\": \"d\", \"requires\": [\"a\"], \"optional\": true,"
				     " \"overlay\": \"d\", \"files\": {\"etc/x\": {\"mode\": \"0600\"}}}");
	put("overlays/d/etc/x", "x\n");
}

static int load(const char *target, const struct recipe_options *o, struct recipe **r, char *err)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/recipes", root);
	return recipe_load(dir, target, o, r, err, 1024);
}

/* The message with the temporary root cut off, so tests compare exactly. */
static const char *rel(const char *err)
{
	static char out[1024];
	size_t n = strlen(root), o = 0;
	for (const char *p = err; *p && o < sizeof(out) - 1;) {
		if (!strncmp(p, root, n) && p[n] == '/') {
			p += n + 1;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

TEST(good_recipe_orders_dependencies_first)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	fresh_tree();
	ASSERT_EQ(load("t", NULL, &r, err), 0);
	ASSERT_EQ(r->n_layers, 3);
	ASSERT_STREQ(r->layers[0]->name, "a");
	ASSERT_STREQ(r->layers[1]->name, "b");
	ASSERT_STREQ(r->layers[2]->name, "c");
	ASSERT_EQ(r->disk.size, 1ULL << 30);
	ASSERT_STREQ(r->disk.table, "mbr");
	ASSERT_STREQ(r->compress, "gzip");
	struct strv p = {0};
	recipe_all_packages(r, &p);
	ASSERT_EQ(p.n, 3);
	ASSERT_STREQ(p.v[0], "nginx");
	ASSERT_STREQ(p.v[1], "openssh-server");
	ASSERT_STREQ(p.v[2], "sudo");
	strv_release(&p);
	recipe_free(r);
}

TEST(with_adds_optional_layer_after_its_requirements)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	struct strv with = {0};
	strv_push(&with, "d");
	struct recipe_options o = {.with = &with, .check_valid_until = -1};
	fresh_tree();
	ASSERT_EQ(load("t", &o, &r, err), 0);
	ASSERT_EQ(r->n_layers, 4);
	ASSERT_STREQ(r->layers[3]->name, "d");
	ASSERT_EQ(r->layers[3]->n_attrs, 1);
	ASSERT_EQ(r->layers[3]->attrs[0].mode, 0600);
	recipe_free(r);
	strv_release(&with);
}

TEST(without_leaves_optional_layer_out)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	struct strv without = {0};
	strv_push(&without, "c");
	struct recipe_options o = {.without = &without, .check_valid_until = -1, .suite = "sid"};
	fresh_tree();
	ASSERT_EQ(load("t", &o, &r, err), 0);
	ASSERT_EQ(r->n_layers, 1);
	ASSERT_STREQ(r->layers[0]->name, "a");
	ASSERT_STREQ(r->suite, "sid");
	recipe_free(r);
	strv_release(&without);
}

TEST(without_refuses_a_required_layer)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	struct strv without = {0};
	strv_push(&without, "a");
	struct recipe_options o = {.without = &without, .check_valid_until = -1};
	fresh_tree();
	ASSERT_TRUE(load("t", &o, &r, err) < 0);
	ASSERT_STREQ(rel(err), "recipes/t.json: layers: layer 'b' requires 'a', which --without leaves out");
	strv_release(&without);
}

TEST(with_refuses_unknown_layer)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	struct strv with = {0};
	strv_push(&with, "zz");
	struct recipe_options o = {.with = &with, .check_valid_until = -1};
	fresh_tree();
	ASSERT_EQ(load("t", &o, &r, err), -MK_ERR_USAGE);
	ASSERT_STREQ(err, "--with zz: 'zz' is not a layer of target 't'; 'mkmesh list' shows them");
	strv_release(&with);
}

struct bad_case {
	const char *file, *text, *message;
};

static const struct bad_case bad_layers[] = {
	{"recipes/layers/a.json", "{\"name\": \"a\", \"packages\": [\"sudo\", \"nginx\", 7]}",
	 "recipes/layers/a.json: packages[2]: expected a string, got an integer"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"packages\": [\"Bad_Name\"]}",
	 "recipes/layers/a.json: packages[0]: 'Bad_Name' is not a Debian package name"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"pakages\": []}",
	 "recipes/layers/a.json: pakages: unknown key (a typo?)"},
	{"recipes/layers/a.json", "{\"name\": \"b\"}",
	 "recipes/layers/a.json: name: 'b' does not match the file name 'a.json'"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"requires\": [\"c\"]}",
	 "recipes/t.json: layers: the layers require each other in a cycle: c -> b -> a -> c"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"requires\": [\"nope\"]}",
	 "recipes/layers/nope.json: no such layer file"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"overlay\": \"missing\"}",
	 "recipes/layers/a.json: overlay: directory 'overlays/missing' does not exist"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"enable\": [\"foo\"]}",
	 "recipes/layers/a.json: enable[0]: 'foo' is not a systemd unit name (foo.service, foo.timer, ...)"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"ftp://x/y\","
				  " \"sha256\": \"00\", \"dest\": \"/x\"}]}",
	 "recipes/layers/a.json: artifacts[0].url: 'ftp://x/y' is not an http(s):// or file:// URL of plain characters (letters, digits and . _ ~ - / : % + = @)"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
				  " \"sha256\": \"00\", \"dest\": \"/x\"}]}",
	 "recipes/layers/a.json: artifacts[0].sha256: expected 64 lower-case hex digits"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"files\": {\"/etc/x\": {\"mode\": \"0644\"}}}",
	 "recipes/layers/a.json: files./etc/x: paths are relative to the overlay directory (no leading '/')"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"files\": {\"etc/x\": {\"mode\": \"rw\"}}}",
	 "recipes/layers/a.json: files.etc/x.mode: 'rw' is not an octal file mode (example: \"0644\")"},
	{"recipes/layers/a.json", "{\"name\": \"a\",}",
	 "recipes/layers/a.json:1:14: string or '}' expected near '}'"},
	{"recipes/t.json", TARGET("[\"a\"]", ", \"arch\": \"mips\""),
	 "recipes/t.json:1:158: duplicate object key near '\"arch\"'"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"mips\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: arch: 'mips' is not supported (supported: \"amd64\", \"arm64\")"},
	{"recipes/t.json", TARGET("[\"a\"]", ", \"compress\": \"lz4\""),
	 "recipes/t.json: compress: 'lz4' is not supported (supported: \"gzip\", \"zstd\", \"xz\")"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"lots\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: disk.size: 'lots' is not a size (examples: \"4G\", \"512M\")"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: mirror: missing (required)"},
	{"recipes/t.json", TARGET("[\"a\", \"a\"]", ""),
	 "recipes/t.json: layers[1]: 'a' is listed twice"},
	{"recipes/t.json", "[1, 2]", "recipes/t.json: expected a JSON object at the top"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"../../x\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: suite: '../../x' is not a Debian suite (trixie, sid, bookworm-backports: a-z, 0-9, - and . only)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"sid\\nx\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: suite: 'sid\nx' is not a Debian suite (trixie, sid, bookworm-backports: a-z, 0-9, - and . only)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m/\\ndeb http://evil/ x main\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: mirror: 'http://m/\ndeb http://evil/ x main' is not an http(s):// or file:// URL of plain characters (letters, digits and . _ ~ - / : % + = @)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m/\\u0085x\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: mirror: 'http://m/\xc2\x85x' is not an http(s):// or file:// URL of plain characters (letters, digits and . _ ~ - / : % + = @)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"], \"kernel_cmdline\": \"quiet\\\" $(id)\"}",
	 "recipes/t.json: kernel_cmdline: 'quiet\" $(id)' holds characters a kernel command line here may not (letters, digits, spaces and . _ - = , : / + @ only)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"], \"kernel_cmdline\": \"quiet\\nGRUB_X=1\"}",
	 "recipes/t.json: kernel_cmdline: 'quiet\nGRUB_X=1' holds characters a kernel command line here may not (letters, digits, spaces and . _ - = , : / + @ only)"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\", \"root_label\": \"my root\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: disk.root_label: 'my root' is not an ext4 label (1 to 16 letters, digits, '_' or '-')"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\", \"firmware_size\": \"2G\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: disk.firmware_size: leaves less than 256M of the 1073741824-byte disk for the root file system"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\", \"firmware_size\": \"64M\", \"firmware_label\": \"RASPIFIRMWARE\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: disk.firmware_label: 'RASPIFIRMWARE' is not a FAT label (1 to 11 letters, digits, '_' or '-')"},
	{"recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"s\","
			   " \"mirror\": \"http://m\", \"disk\": {\"size\": \"3T\"}, \"layers\": [\"a\"]}",
	 "recipes/t.json: disk.size: must be at most 2T (an MBR disk)"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
				  " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"dest\": \"/\"}]}",
	 "recipes/layers/a.json: artifacts[0].dest: '/' must be the absolute path of a file in the image ('/' and plain names: letters, digits and . _ + ~ -; no '.', '..' or trailing '/')"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
				  " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"dest\": \"/etc/\"}]}",
	 "recipes/layers/a.json: artifacts[0].dest: '/etc/' must be the absolute path of a file in the image ('/' and plain names: letters, digits and . _ + ~ -; no '.', '..' or trailing '/')"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
				  " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"dest\": \"/usr/../etc/x\"}]}",
	 "recipes/layers/a.json: artifacts[0].dest: '/usr/../etc/x' must be the absolute path of a file in the image ('/' and plain names: letters, digits and . _ + ~ -; no '.', '..' or trailing '/')"},
	{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
				  " \"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", \"dest\": \"/usr/bin/x\\ny\"}]}",
	 "recipes/layers/a.json: artifacts[0].dest: '/usr/bin/x\ny' must be the absolute path of a file in the image ('/' and plain names: letters, digits and . _ + ~ -; no '.', '..' or trailing '/')"},
};

/* Loads target t from the tree as it is now and checks that it is refused
 * with MESSAGE (case I of a table, for the failure's text). */
static void expect_refused(size_t i, const char *message)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	int rc = load("t", NULL, &r, err);
	if (rc != -MK_ERR_RECIPE)
		FAIL_AT("case %zu: rc %d, err '%s'", i, rc, err);
	if (strcmp(rel(err), message) != 0)
		FAIL_AT("case %zu:\n    got      '%s'\n    expected '%s'", i, rel(err), message);
}

TEST(bad_recipes_name_file_and_path)
{
	for (size_t i = 0; i < ELEMENTSOF(bad_layers); i++) {
		fresh_tree();
		put(bad_layers[i].file, bad_layers[i].text);
		expect_refused(i, bad_layers[i].message);
	}
}

TEST(unknown_target_is_a_usage_error)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	fresh_tree();
	ASSERT_EQ(load("nope", NULL, &r, err), -MK_ERR_USAGE);
	ASSERT_TRUE(strstr(err, "no target 'nope'") != NULL);
}

TEST(sizes)
{
	uint64_t v;
	ASSERT_EQ(recipe_parse_size("4G", &v), 0);
	ASSERT_EQ(v, 4ULL << 30);
	ASSERT_EQ(recipe_parse_size("512M", &v), 0);
	ASSERT_EQ(v, 512ULL << 20);
	ASSERT_EQ(recipe_parse_size("17", &v), 0);
	ASSERT_EQ(v, 17);
	ASSERT_EQ(recipe_parse_size("4GB", &v), -EINVAL);
	ASSERT_EQ(recipe_parse_size("", &v), -EINVAL);
	ASSERT_EQ(recipe_parse_size("99999999999999T", &v), -EINVAL);
}

TEST(the_shipped_recipes_load)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	int rc = recipe_load("recipes", "droplet", NULL, &r, err, sizeof(err));
	if (rc < 0)
		FAIL_AT("%s", err);
	ASSERT_STREQ(r->layers[0]->name, "base");
	recipe_free(r);
	mk_rm_rf(root);
}

TEST(variants_choose_by_suite_and_arch)
{
	struct recipe *r = NULL;
	char err[1024] = "";
	fresh_tree();
	put("recipes/keys/k.gpg", "key\n");
	put("recipes/layers/a.json",
	    "{\"name\": \"a\", \"variants\": ["
	    " {\"suites\": [\"sid\"], \"packages\": [\"matrix-synapse\"]},"
	    " {\"arches\": [\"amd64\"], \"packages\": [\"matrix-synapse-py3\"], \"apt_sources\": [{"
	    "   \"name\": \"matrix-org\", \"uri\": \"https://packages.matrix.org/debian/\","
	    "   \"key\": {\"url\": \"https://packages.matrix.org/debian/k.gpg\","
	    "             \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}],"
	    " \"artifacts\": ["
	    "  {\"name\": \"x\", \"arch\": \"amd64\", \"url\": \"https://e/x-amd64\", \"dest\": \"/x\","
	    "   \"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\","
	    "   \"signature\": {\"url\": \"https://e/x.asc\", \"key\": \"keys/k.gpg\","
	    "                   \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}},"
	    "  {\"name\": \"y\", \"arch\": \"arm64\", \"url\": \"https://e/x-arm64\", \"dest\": \"/x\","
	    "   \"sha256\": \"2222222222222222222222222222222222222222222222222222222222222222\"}]}");
	/* trixie on amd64: the second variant, its apt source; the amd64 artifact only. */
	ASSERT_EQ(load("t", NULL, &r, err), 0);
	const struct recipe_layer *a = r->layers[0];
	ASSERT_STREQ(a->name, "a");
	ASSERT_TRUE(a->variant == &a->variants[1]);
	const struct recipe_apt_source *src[4];
	ASSERT_EQ(recipe_apt_sources(r, src, 4), 1);
	ASSERT_STREQ(src[0]->name, "matrix-org");
	ASSERT_STREQ(src[0]->components.v[0], "main");
	ASSERT_EQ(a->n_artifacts, 1);
	ASSERT_STREQ(a->artifacts[0].name, "x");
	ASSERT_TRUE(strstr(a->artifacts[0].sig_key, "/recipes/keys/k.gpg") != NULL);
	struct strv p = {0};
	recipe_all_packages(r, &p);
	ASSERT_TRUE(strv_contains(&p, "matrix-synapse-py3"));
	ASSERT_TRUE(!strv_contains(&p, "matrix-synapse"));
	strv_release(&p);
	recipe_free(r);

	/* Trusted by a signature alone: no sha256, the key downloaded. */
	put("recipes/layers/b.json",
	    "{\"name\": \"b\", \"artifacts\": [{\"name\": \"z\", \"url\": \"https://e/z.tar.gz\", \"dest\": \"/z\","
	    " \"signature\": {\"url\": \"https://e/z.tar.gz.asc\", \"key_url\": \"https://e/k.asc\","
	    " \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}");
	put("recipes/u.json", "{\"name\": \"u\", \"kind\": \"droplet\", \"arch\": \"amd64\", \"suite\": \"trixie\","
			      " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"b\"]}");
	ASSERT_EQ(load("u", NULL, &r, err), 0);
	ASSERT_TRUE(r->layers[0]->artifacts[0].sha256 == NULL);
	ASSERT_STREQ(r->layers[0]->artifacts[0].sig_key_url, "https://e/k.asc");
	ASSERT_TRUE(r->layers[0]->artifacts[0].sig_key == NULL);
	recipe_free(r);

	/* sid: the first variant. */
	struct recipe_options o = {.suite = "sid", .check_valid_until = -1};
	ASSERT_EQ(load("t", &o, &r, err), 0);
	ASSERT_TRUE(r->layers[0]->variant == &r->layers[0]->variants[0]);
	ASSERT_EQ(recipe_apt_sources(r, src, 4), 0);
	recipe_free(r);

	/* arm64 trixie: none fits. */
	put("recipes/t.json", "{\"name\": \"t\", \"kind\": \"droplet\", \"arch\": \"arm64\", \"suite\": \"trixie\","
			      " \"mirror\": \"http://m\", \"disk\": {\"size\": \"1G\"}, \"layers\": [\"a\"]}");
	ASSERT_EQ(load("t", NULL, &r, err), -MK_ERR_RECIPE);
	ASSERT_STREQ(rel(err), "recipes/layers/a.json: variants: none fits Debian 'trixie' on arm64; "
			       "choose another --suite, or leave the layer out with --without a");
	mk_rm_rf(root);
}

TEST(bad_variants_and_signatures)
{
	static const struct bad_case cases[] = {
		{"recipes/layers/a.json", "{\"name\": \"a\", \"variants\": []}",
		 "recipes/layers/a.json: variants: expected a non-empty array"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"variants\": [{\"arches\": [\"mips\"]}]}",
		 "recipes/layers/a.json: variants[0].arches[0]: 'mips' is not a supported architecture (amd64, arm64)"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"variants\": [{\"apt_sources\": [{\"name\": \"m\","
					  " \"uri\": \"https://m/\"}]}]}",
		 "recipes/layers/a.json: variants[0].apt_sources[0].key: missing (required: an apt source without a pinned key is not trusted)"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\","
					  " \"dest\": \"/x\", \"signature\": {\"url\": \"https://x/y.asc\", \"key\": \"keys/none.gpg\","
					  " \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}",
		 "recipes/layers/a.json: artifacts[0].signature.key: key file 'recipes/keys/none.gpg' does not exist"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\","
					  " \"dest\": \"/x\", \"signature\": {\"url\": \"https://x/y.asc\", \"key\": \"k\","
					  " \"fingerprint\": \"AAF9\"}}]}",
		 "recipes/layers/a.json: artifacts[0].signature.fingerprint: expected 40 hex digits (an OpenPGP v4 fingerprint)"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"dest\": \"/x\"}]}",
		 "recipes/layers/a.json: artifacts[0].sha256: missing (required unless the artifact has a signature)"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"dest\": \"/x\", \"signature\": {\"url\": \"https://x/y.asc\","
					  " \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}",
		 "recipes/layers/a.json: artifacts[0].signature: give the key as 'key' (a file in the recipe tree) or as "
		 "'key_url' (downloaded and checked against the fingerprint), one of the two"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"dest\": \"/x\", \"signature\": {\"url\": \"https://x/y.asc\", \"key\": \"k\","
					  " \"key_url\": \"https://x/k.asc\", \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}",
		 "recipes/layers/a.json: artifacts[0].signature: give the key as 'key' (a file in the recipe tree) or as "
		 "'key_url' (downloaded and checked against the fingerprint), one of the two"},
		{"recipes/layers/a.json", "{\"name\": \"a\", \"artifacts\": [{\"name\": \"x\", \"url\": \"https://x/y\","
					  " \"dest\": \"/x\", \"signature\": {\"url\": \"https://x/y.asc\","
					  " \"key_url\": \"ftp://x/k\", \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}",
		 "recipes/layers/a.json: artifacts[0].signature.key_url: 'ftp://x/k' is not an http(s):// or file:// URL of plain characters (letters, digits and . _ ~ - / : % + = @)"},
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		fresh_tree();
		put(cases[i].file, cases[i].text);
		expect_refused(i, cases[i].message);
	}
	mk_rm_rf(root);
}

/* What two layers of one build may not share: an artifact's path or name, an
 * apt source's name; and an overlay is one directory under overlays/. */
TEST(layers_may_not_collide)
{
#define ART(n, d) "{\"name\": \"" n "\", \"url\": \"https://e/" n "\", \"dest\": \"" d "\"," \
		  " \"sha256\": \"1111111111111111111111111111111111111111111111111111111111111111\"}"
#define SRC(n) "{\"suites\": [\"trixie\"], \"apt_sources\": [{\"name\": \"" n "\", \"uri\": \"https://e/debian/\"," \
	       " \"key\": {\"url\": \"https://e/k.gpg\", \"fingerprint\": \"AAF9AE843A7584B5A3E4CD2BCF45A512DE2DA058\"}}]}"
	static const struct {
		const char *a, *b, *message;
	} cases[] = {
		{"{\"name\": \"a\", \"artifacts\": [" ART("x", "/usr/bin/x") "]}",
		 "{\"name\": \"b\", \"requires\": [\"a\"], \"artifacts\": [" ART("y", "/usr/bin/x") "]}",
		 "recipes/layers/b.json: artifacts[0].dest: '/usr/bin/x' is also the dest of artifact 'x' in "
		 "recipes/layers/a.json; each artifact needs a name and a path of its own"},
		{"{\"name\": \"a\", \"artifacts\": [" ART("x", "/usr/bin/x") "]}",
		 "{\"name\": \"b\", \"requires\": [\"a\"], \"artifacts\": [" ART("x", "/usr/bin/y") "]}",
		 "recipes/layers/b.json: artifacts[0].name: 'x' is also the name of artifact 'x' in "
		 "recipes/layers/a.json; each artifact needs a name and a path of its own"},
		{"{\"name\": \"a\", \"artifacts\": [" ART("x", "/x") ", " ART("y", "/x") "]}", NULL,
		 "recipes/layers/a.json: artifacts[1].dest: '/x' is also the dest of artifact 'x' in "
		 "recipes/layers/a.json; each artifact needs a name and a path of its own"},
		{"{\"name\": \"a\", \"variants\": [" SRC("s") "]}",
		 "{\"name\": \"b\", \"requires\": [\"a\"], \"variants\": [" SRC("s") "]}",
		 "recipes/layers/b.json: apt_sources: 's' is also the name of an apt source in recipes/layers/a.json; "
		 "each source needs a name of its own (it names its file in sources.list.d/)"},
		{"{\"name\": \"a\", \"overlay\": \".\"}", NULL,
		 "recipes/layers/a.json: overlay: '.' must be the name of a directory under overlays/ (no '/', not starting with '.')"},
		{"{\"name\": \"a\", \"overlay\": \".git\"}", NULL,
		 "recipes/layers/a.json: overlay: '.git' must be the name of a directory under overlays/ (no '/', not starting with '.')"},
	};
	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		fresh_tree();
		put("recipes/t.json", TARGET("[\"b\"]", ""));
		put("recipes/layers/a.json", cases[i].a);
		put("recipes/layers/b.json", cases[i].b ? cases[i].b : "{\"name\": \"b\", \"requires\": [\"a\"]}");
		expect_refused(i, cases[i].message);
	}
	mk_rm_rf(root);
#undef ART
#undef SRC
}
