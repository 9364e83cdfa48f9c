/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A tiny test harness: TEST() registers, ASSERT_*() reports file:line.
 * A test binary exits 0 when all pass, 1 on a failure, 77 when skipped. */
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
static int mk_ntests, mk_failed_current;

#define TEST(name)                                                           \
	static void test_##name(void);                                       \
	__attribute__((constructor)) static void register_##name(void)       \
	{                                                                    \
		mk_tests[mk_ntests++] = (struct mk_test){#name, test_##name}; \
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
	int failed = 0;
	setlocale(LC_CTYPE, "C.UTF-8"); /* as mkmesh's main() does */
	for (int i = 0; i < mk_ntests; i++) {
		mk_failed_current = 0;
		mk_tests[i].fn();
		printf("%s %s\n", mk_failed_current ? "FAIL" : "ok  ", mk_tests[i].name);
		failed += mk_failed_current;
	}
	printf("%d passed, %d failed\n", mk_ntests - failed, failed);
	return failed ? 1 : 0;
}

#endif
