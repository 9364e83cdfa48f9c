/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The grammars of outside values: real values pass; shell, quotes, line
 * breaks (newline, NEL, U+2028), path tricks and look-alikes do not. */
#include "grammar.h"
#include "tests.h"

/* What every grammar must refuse, whatever it is for. */
static const char *const hostile[] = {
	"", "1$(id>x)", "1`id`", "1;id", "1 2", "1\n2", "1\r2", "1\t2", "1\xc2\x85" "2",
	"1\xe2\x80\xa8" "2", "1'2", "1\"2", "1\\2", "a|b", "a&b", "a>b", "a<b", "a*b", "a?b", "a[b]",
};

static void refused_by(const char *(*g)(const char *), const char *name)
{
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++)
		if (g(hostile[i]) == NULL)
			FAIL_AT("%s accepted hostile value #%zu", name, i);
}

TEST(all_refuse_shell_quotes_and_line_breaks)
{
	refused_by(grammar_debian_version, "version");
	refused_by(grammar_debian_package, "package");
	refused_by(grammar_debian_arch, "arch");
	refused_by(grammar_debian_suite, "suite");
	refused_by(grammar_debian_component, "component");
	refused_by(grammar_http_url, "url");
	refused_by(grammar_sha256, "sha256");
	refused_by(grammar_file_name, "file name");
	refused_by(grammar_image_version, "image version");
	refused_by(grammar_name, "name");
	/* a path may hold spaces, but no quotes, $, ` or control characters */
	ASSERT_TRUE(grammar_local_path("/var/cache/my builds") == NULL);
	ASSERT_TRUE(grammar_local_path("/tmp/a'b") != NULL);
	ASSERT_TRUE(grammar_local_path("/tmp/a$(id)") != NULL);
	ASSERT_TRUE(grammar_local_path("/tmp/a\nb") != NULL);
	ASSERT_TRUE(grammar_local_path("/tmp/a\xc2\x85" "b") != NULL);
}

TEST(debian_versions)
{
	const char *good[] = {"6.12.57-1", "1:2.38.1-5+b1", "2025b-4", "1.0~rc1-2~bpo12+1", "0.1",
			      "3.0.15-1~deb12u1", "2:9.1.0016-1", "1.2-3-4"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT_TRUE(grammar_debian_version(good[i]) == NULL);
	const char *bad[] = {"6.12$(id>x)", "a1.0", ":1.0", "x:1.0", "1.0-", "-1", "1.0-a:b", "1:",
			     "1.0 ", "1.0=2", "1.0,2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_TRUE(grammar_debian_version(bad[i]) != NULL);
}

TEST(names_suites_arches)
{
	ASSERT_TRUE(grammar_debian_package("linux-image-6.12.57+deb13-arm64") == NULL);
	ASSERT_TRUE(grammar_debian_package("libstdc++6") == NULL);
	ASSERT_TRUE(grammar_debian_package("Foo") != NULL);
	ASSERT_TRUE(grammar_debian_package("a") != NULL);
	ASSERT_TRUE(grammar_debian_package("-x") != NULL);
	ASSERT_TRUE(grammar_debian_suite("bookworm-backports") == NULL);
	ASSERT_TRUE(grammar_debian_suite("sid") == NULL);
	ASSERT_TRUE(grammar_debian_suite("../../x") != NULL);
	ASSERT_TRUE(grammar_debian_suite("trixie/updates") != NULL);
	ASSERT_TRUE(grammar_debian_arch("arm64") == NULL);
	ASSERT_TRUE(grammar_debian_arch("all") == NULL);
	ASSERT_TRUE(grammar_debian_arch("arm64,amd64") != NULL);
	ASSERT_TRUE(grammar_debian_component("non-free-firmware") == NULL);
	ASSERT_TRUE(grammar_name("yggdrasil") == NULL);
	ASSERT_TRUE(grammar_name("9lives") != NULL);
	ASSERT_TRUE(grammar_image_version("0.4.1-3-gdeadbee") == NULL);
	ASSERT_TRUE(grammar_image_version("test") == NULL);
	ASSERT_TRUE(grammar_image_version("-rf") != NULL);
	ASSERT_TRUE(grammar_image_version("1.0/../x") != NULL);
	ASSERT_TRUE(grammar_file_name("element-v1.11.22.tar.gz") == NULL);
	ASSERT_TRUE(grammar_file_name("..") != NULL);
	ASSERT_TRUE(grammar_file_name("a/b") != NULL);
}

TEST(urls)
{
	const char *good[] = {"http://deb.debian.org/debian", "https://snapshot.debian.org/archive/debian/20250520T000000Z/",
			      "http://127.0.0.1:8080/cjdns-v21.1.tar.gz", "http://[::1]:9/x",
			      "https://github.com/element-hq/element-web/releases/download/v1.11.22/element-v1.11.22.tar.gz",
			      "https://example.org/a%20b+c~d_e=f@g", "http://host"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ASSERT_TRUE(grammar_http_url(good[i]) == NULL);
	const char *bad[] = {"file:///etc/passwd", "ftp://x/y", "gopher://x/", "dict://x/", "HTTP://x/",
			     "http://", "http:///x", "http://user:pw@host/", "http://host/a?b", "http://host/a#b",
			     "http://host:99999999/", "http://-host/", "http://host/%zz", "http://host/%4",
			     "http://host/a b", "http://host/a\nb", "http://host/\xc2\x85", "http://ho st/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_TRUE(grammar_http_url(bad[i]) != NULL);
}

TEST(sha256)
{
	ASSERT_TRUE(grammar_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == NULL);
	ASSERT_TRUE(grammar_sha256("../../x") != NULL);
	ASSERT_TRUE(grammar_sha256("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855") != NULL);
	ASSERT_TRUE(grammar_sha256("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85") != NULL);
}
