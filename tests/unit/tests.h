/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A tiny test harness: TEST() registers, ASSERT_*() reports file:line,
 * SKIP() says why a test cannot run here. A test binary exits 1 when a
 * test failed, else 77 when one was skipped (tests/run.sh shows the first
 * line holding "skip": the reason), else 0. */
#ifndef MK_TESTS_H
#define MK_TESTS_H

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mk_test {
	const char *name;
	void (*fn)(void);
};
#define MAX_TESTS 128
static struct mk_test mk_tests[MAX_TESTS];
static int mk_ntests, mk_failed_current, mk_skipped_current;
static const char *mk_current_name = "";

/* Called by each TEST()'s constructor, before main: one test too many
 * stops the binary there, with a message, instead of writing past the
 * table. */
__attribute__((unused)) static void mk_register(const char *name, void (*fn)(void))
{
	if (mk_ntests >= MAX_TESTS) {
		fprintf(stderr, "tests.h: cannot register test '%s': the binary has more than %d tests "
			"(raise MAX_TESTS in tests/unit/tests.h, or split the file)\n", name, MAX_TESTS);
		exit(1);
	}
	mk_tests[mk_ntests++] = (struct mk_test){name, fn};
}

#define TEST(name)                                                           \
	static void test_##name(void);                                       \
	__attribute__((constructor)) static void register_##name(void)       \
	{                                                                    \
		mk_register(#name, test_##name);                             \
	}                                                                    \
	static void test_##name(void)

#define FAIL_AT(...)                                                         \
	do {                                                                 \
		fprintf(stderr, "  %s:%d: ", __FILE__, __LINE__);           \
		fprintf(stderr, __VA_ARGS__);                                \
		fputc('\n', stderr);                                         \
		mk_failed_current = 1;                                       \
		return;                                                      \
	} while (0)

/* Ends the current test as skipped; the reason (printf-style) says what is
 * missing and how to get it. The other tests still run. */
#define SKIP(...)                                                            \
	do {                                                                 \
		printf("skipped: %s: ", mk_current_name);                    \
		printf(__VA_ARGS__);                                         \
		putchar('\n');                                               \
		mk_skipped_current = 1;                                      \
		return;                                                      \
	} while (0)

#define ASSERT_TRUE(c) do { if (!(c)) FAIL_AT("expected %s", #c); } while (0)
#define ASSERT_EQ(a, b)                                                      \
	do {                                                                 \
		long long _a = (long long)(a), _b = (long long)(b);          \
		if (_a != _b)                                                \
			FAIL_AT("%s == %lld, expected %lld", #a, _a, _b);   \
	} while (0)
#define ASSERT_STREQ(a, b)                                                   \
	do {                                                                 \
		const char *_a = (a), *_b = (b);                             \
		if (!_a || !_b || strcmp(_a, _b))                            \
			FAIL_AT("%s is \"%s\", expected \"%s\"", #a,        \
				_a ? _a : "(null)", _b ? _b : "(null)");     \
	} while (0)

int main(void)
{
	int failed = 0, skipped = 0;
	setlocale(LC_CTYPE, "C.UTF-8"); /* as mkmesh's main() does */
	for (int i = 0; i < mk_ntests; i++) {
		mk_failed_current = mk_skipped_current = 0;
		mk_current_name = mk_tests[i].name;
		mk_tests[i].fn();
		printf("%s %s\n", mk_failed_current ? "FAIL" : mk_skipped_current ? "skip" : "ok  ",
		       mk_tests[i].name);
		failed += mk_failed_current;
		skipped += !mk_failed_current && mk_skipped_current;
	}
	printf("%d passed, %d failed, %d skipped\n", mk_ntests - failed - skipped, failed, skipped);
	return failed ? 1 : skipped ? 77 : 0;
}

#endif
