/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Numbers from the environment: plain decimals within their bounds, or a
 * clear error before any command runs (nan once made a retry loop spin). */
#include "tests.h"
#include "util.h"

TEST(env_numbers_are_checked)
{
	static const char *const bad[] = {"nan", "inf", "-1", "1e3", "0x10", " 1", "1 ", "", "61", "0",
					  "1.", ".5", "1.2.3"};
	char err[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		setenv("MKMESH_RETRY_BASE_SECONDS", bad[i], 1);
		int rc = mk_env_check(err, sizeof(err));
		if (*bad[i] == '\0') { /* empty is unset */
			ASSERT_EQ(rc, 0);
			continue;
		}
		ASSERT_EQ(rc, -EINVAL);
		ASSERT_TRUE(strstr(err, "MKMESH_RETRY_BASE_SECONDS=") == err);
		ASSERT_TRUE(strstr(err, "is not a number from 0.001 to 60") != NULL);
	}
	setenv("MKMESH_RETRY_BASE_SECONDS", "0.2", 1);
	ASSERT_EQ(mk_env_check(err, sizeof(err)), 0);
	ASSERT_TRUE(mk_env_seconds("MKMESH_RETRY_BASE_SECONDS", 9) == 0.2);
	unsetenv("MKMESH_RETRY_BASE_SECONDS");
	ASSERT_TRUE(mk_env_seconds("MKMESH_RETRY_BASE_SECONDS", 9) == 9);

	setenv("SOURCE_DATE_EPOCH", "1700000000.5", 1);
	ASSERT_EQ(mk_env_check(err, sizeof(err)), -EINVAL);
	ASSERT_TRUE(strstr(err, "is not a whole number") != NULL);
	setenv("SOURCE_DATE_EPOCH", "253402300800", 1);
	ASSERT_EQ(mk_env_check(err, sizeof(err)), -EINVAL);
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	ASSERT_EQ(mk_env_check(err, sizeof(err)), 0);
	unsetenv("SOURCE_DATE_EPOCH");
}
