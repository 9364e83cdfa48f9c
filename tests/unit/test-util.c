/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Numbers from the environment: plain decimals within their bounds, or a
 * clear error before any command runs (nan once made a retry loop spin). */
#include <fcntl.h>
#include <sys/stat.h>

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

/* Files from outside: only regular ones, never a hang on a FIFO or an
 * endless read of a device, links refused when asked, sizes bounded. */
TEST(read_regular_is_strict)
{
	char dir[] = "/tmp/mkmesh-test-util.XXXXXX";
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	_cleanup_free_ char *file = xasprintf("%s/file", dir), *fifo = xasprintf("%s/fifo", dir),
			    *link = xasprintf("%s/link", dir), *zero = xasprintf("%s/zero", dir);
	ASSERT_EQ(mk_write_file_atomic(file, "hello\n", 6, 0644), 0);
	ASSERT_EQ(mkfifo(fifo, 0600), 0);
	ASSERT_EQ(symlink("file", link), 0);
	ASSERT_EQ(symlink("/dev/zero", zero), 0);

	char *text = NULL;
	size_t len = 0;
	ASSERT_EQ(mk_read_regular(AT_FDCWD, file, MK_NOFOLLOW, 6, &text, &len), 0);
	ASSERT_EQ(len, 6);
	ASSERT_STREQ(text, "hello\n");
	free(text);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, file, 0, 5, &text, &len), -EFBIG);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, fifo, 0, 1 << 20, &text, &len), -MK_ERR_NOT_REGULAR);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, "/dev/zero", 0, 1 << 20, &text, &len), -MK_ERR_NOT_REGULAR);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, zero, 0, 1 << 20, &text, &len), -MK_ERR_NOT_REGULAR);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, zero, MK_NOFOLLOW, 1 << 20, &text, &len), -MK_ERR_SYMLINK);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, link, MK_NOFOLLOW, 1 << 20, &text, &len), -MK_ERR_SYMLINK);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, dir, 0, 1 << 20, &text, &len), -MK_ERR_NOT_REGULAR);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, link, 0, 1 << 20, &text, &len), 0);
	free(text);
	/* relative to a directory, as verify reads a release */
	_cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_EQ(mk_read_regular(dfd, "file", MK_NOFOLLOW, 100, &text, &len), 0);
	free(text);
	/* a file whose size says nothing (procfs) is still read, and bounded */
	ASSERT_EQ(mk_read_regular(AT_FDCWD, "/proc/self/status", 0, 1 << 20, &text, &len), 0);
	ASSERT_TRUE(len > 0 && strstr(text, "Name:") != NULL);
	free(text);
	ASSERT_EQ(mk_read_regular(AT_FDCWD, "/proc/self/status", 0, 8, &text, &len), -EFBIG);
	ASSERT_EQ(mk_open_regular(AT_FDCWD, fifo, 0, NULL), -MK_ERR_NOT_REGULAR);
	unlink(file);
	unlink(fifo);
	unlink(link);
	unlink(zero);
	rmdir(dir);
}

/* The one hex encoder (bmap and flash had copies of their own). */
TEST(mk_hex_lower_case_two_digits_a_byte)
{
	const unsigned char b[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
	char out[2 * sizeof(b) + 1];
	memset(out, 'x', sizeof(out));
	mk_hex(b, sizeof(b), out);
	ASSERT_STREQ(out, "00017f80abff");
	mk_hex(b, 0, out);
	ASSERT_STREQ(out, "");
	char sum[65];
	mk_sha256_hex("abc", 3, sum);
	ASSERT_STREQ(sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
