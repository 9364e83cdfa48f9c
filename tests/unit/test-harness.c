/* SPDX-License-Identifier: GPL-3.0-or-later */
/* tests.h itself, on small programs compiled here with $CC (cc): one test
 * more than MAX_TESTS stops the binary at registration with a message (it
 * used to write past the table), and SKIP() ends a test as skipped with
 * its reason, the others still run, and the binary exits 77. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "../../builder/util.h"
#include "tests.h"

static char dir[] = "/tmp/mkmesh-test-harness.XXXXXX";

/* tests.h, found from this file's name (the tests are built and run from
 * the top of the tree). */
static char *harness_dir(void)
{
	_cleanup_free_ char *here = realpath(__FILE__, NULL);
	if (!here)
		return NULL;
	*strrchr(here, '/') = '\0';
	return xstrdup(here);
}

/* Compiles SRC (a C file including "tests.h") and runs it; its output in
 * DIR/out.txt, its exit code returned (-1 when it did not build). */
static int build_and_run(const char *src)
{
	_cleanup_free_ char *inc = harness_dir();
	if (!inc)
		return -1;
	_cleanup_free_ char *c = xasprintf("%s/t.c", dir);
	if (mk_write_file_atomic(c, src, strlen(src), 0644) < 0)
		return -1;
	const char *cc = getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
	_cleanup_free_ char *build = xasprintf("cd %s && %s -std=gnu11 -I%s -o t t.c >build.txt 2>&1", dir, cc, inc);
	if (system(build) != 0)
		return -1;
	_cleanup_free_ char *run = xasprintf("cd %s && ./t >out.txt 2>&1", dir);
	int st = system(run);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *output(void)
{
	_cleanup_free_ char *p = xasprintf("%s/out.txt", dir);
	char *text = NULL;
	size_t len;
	if (mk_read_file(p, &text, &len) < 0)
		return xstrdup("");
	return text;
}

TEST(setup)
{
	if (system("command -v \"${CC:-cc}\" >/dev/null 2>&1") != 0)
		SKIP("no C compiler ('%s') to build the harness's test programs", getenv("CC") ? getenv("CC") : "cc");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
}

TEST(one_test_too_many_fails_at_registration)
{
	if (dir[strlen(dir) - 1] == 'X')
		SKIP("no test directory (see setup)");
	/* MAX_TESTS + 1 tests: X(n) defines one, the table is 16 x 8 + 1 */
	char *src = NULL;
	size_t len;
	FILE *f = open_memstream(&src, &len);
	fprintf(f, "#include \"tests.h\"\n");
	for (int i = 0; i <= MAX_TESTS; i++)
		fprintf(f, "TEST(t%d) { ASSERT_TRUE(1); }\n", i);
	fclose(f);
	int rc = build_and_run(src);
	free(src);
	ASSERT_EQ(rc, 1);
	_cleanup_free_ char *out = output();
	ASSERT_TRUE(strstr(out, "cannot register test 't128': the binary has more than 128 tests") != NULL);
	ASSERT_TRUE(strstr(out, "ok   t0") == NULL); /* stopped before any test ran */

	/* exactly MAX_TESTS: all run */
	f = open_memstream(&src, &len);
	fprintf(f, "#include \"tests.h\"\n");
	for (int i = 0; i < MAX_TESTS; i++)
		fprintf(f, "TEST(t%d) { ASSERT_TRUE(1); }\n", i);
	fclose(f);
	rc = build_and_run(src);
	free(src);
	ASSERT_EQ(rc, 0);
	_cleanup_free_ char *out2 = output();
	ASSERT_TRUE(strstr(out2, "128 passed, 0 failed, 0 skipped") != NULL);
}

TEST(skip_says_why_and_exits_77)
{
	if (dir[strlen(dir) - 1] == 'X')
		SKIP("no test directory (see setup)");
	ASSERT_EQ(build_and_run("#include \"tests.h\"\n"
				"TEST(first) { ASSERT_TRUE(1); }\n"
				"TEST(needs_tool) { SKIP(\"'%s' is missing\", \"mke2fs\"); ASSERT_TRUE(0); }\n"
				"TEST(last) { ASSERT_TRUE(1); }\n"),
		  77);
	_cleanup_free_ char *out = output();
	/* the first line with "skip" is the reason, as tests/run.sh shows it */
	const char *line = strcasestr(out, "skip");
	ASSERT_TRUE(line != NULL);
	ASSERT_TRUE(!strncmp(line, "skipped: needs_tool: 'mke2fs' is missing\n", 41));
	ASSERT_TRUE(strstr(out, "ok   first\nskipped: needs_tool: 'mke2fs' is missing\nskip needs_tool\n"
				"ok   last\n") != NULL);
	ASSERT_TRUE(strstr(out, "2 passed, 0 failed, 1 skipped") != NULL);

	/* a failure elsewhere wins over a skip */
	ASSERT_EQ(build_and_run("#include \"tests.h\"\n"
				"TEST(needs_tool) { SKIP(\"no\"); }\n"
				"TEST(broken) { ASSERT_EQ(1, 2); }\n"),
		  1);
}

TEST(cleanup)
{
	if (dir[strlen(dir) - 1] == 'X')
		return;
	_cleanup_free_ char *rm = xasprintf("rm -rf %s", dir);
	ASSERT_EQ(system(rm), 0);
}
