/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading a failed tool's log: the line that names the cause and the fix,
 * on logs of real mmdebstrap runs on this archive (tests/fixtures/logs:
 * sid's expired Release, a captive page, a proxy asking for a login, a
 * package that does not exist) and on dpkg's and tar's own words. */
#include "diagnose.h"
#include "tests.h"
#include "util.h"

static const struct diagnose_hints hints = {
	.suite = "trixie", .mirror = "http://127.0.0.1:18081/debian", .cache_dir = "/tmp", .disk_size = 2ULL << 30};

static void diagnose_file(const char *name, char *cause, char *fix)
{
	char path[256];
	_cleanup_free_ char *text = NULL;
	snprintf(path, sizeof(path), "tests/fixtures/logs/%s", name);
	if (mk_read_file(path, &text, NULL) < 0) {
		fprintf(stderr, "cannot read %s (run from the top of the tree)\n", path);
		abort();
	}
	diagnose_apt_text(text, &hints, cause, 512, fix, 1024);
}

TEST(expired_release_names_no_check_valid_until)
{
	char cause[512], fix[1024];
	diagnose_file("mmdebstrap-sid.log", cause, fix);
	ASSERT_TRUE(!strncmp(cause, "Release file for http://deb.debian.org/debian/dists/sid/InRelease is expired (invalid since ", 92));
	ASSERT_TRUE(strstr(fix, "add --no-check-valid-until") != NULL);
	ASSERT_TRUE(strstr(fix, "use another --mirror") != NULL);
}

TEST(captive_page_is_named)
{
	char cause[512], fix[1024];
	diagnose_file("mmdebstrap-html.log", cause, fix);
	ASSERT_STREQ(cause, "Failed to fetch http://127.0.0.1:18081/debian/dists/trixie/InRelease  Clearsigned file "
			    "isn't valid, got 'NOSPLIT' (does the network require authentication?)");
	ASSERT_TRUE(strstr(fix, "captive portal") != NULL);
	ASSERT_TRUE(strstr(fix, "open http://127.0.0.1:18081/debian/dists/trixie/InRelease in a browser") != NULL);
}

TEST(proxy_login)
{
	char cause[512], fix[1024];
	diagnose_file("mmdebstrap-407.log", cause, fix);
	ASSERT_STREQ(cause, "Failed to fetch http://127.0.0.1:18082/debian/dists/trixie/InRelease  407  Proxy "
			    "Authentication Required [IP: 127.0.0.1 18082]");
	ASSERT_TRUE(strstr(fix, "http_proxy=http://USER:PASSWORD@PROXY:PORT/") != NULL);
}

TEST(unknown_package_names_package_and_suite)
{
	char cause[512], fix[1024];
	diagnose_file("mmdebstrap-nopkg.log", cause, fix);
	ASSERT_STREQ(cause, "Unable to locate package no-such-package-mkmesh");
	ASSERT_TRUE(strstr(fix, "Debian 'trixie' at 'http://127.0.0.1:18081/debian' has no package "
				"'no-such-package-mkmesh'") != NULL);
	ASSERT_TRUE(strstr(fix, "--suite") != NULL);
}

TEST(maintainer_script)
{
	char cause[512], fix[1024];
	diagnose_apt_text("Setting up foo (1.0) ...\nfoo: cannot start\n"
			  "dpkg: error processing package foo (--configure):\n"
			  " installed foo package post-installation script subprocess returned error exit status 3\n"
			  "Errors were encountered while processing:\n foo\n"
			  "E: Sub-process /usr/bin/dpkg returned an error code (1)\nE: mmdebstrap failed to run\n",
			  &hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "installed foo package post-installation script subprocess returned error exit status 3");
	ASSERT_TRUE(strstr(fix, "maintainer script") != NULL);
}

TEST(no_space_in_the_cache)
{
	char cause[512], fix[1024];
	diagnose_apt_text("I: running special hook: sync-out /var/cache/apt/archives /c/apt/amd64\n"
			  "tar: ./libzstd1_1.5.7+dfsg-1_amd64.deb: Cannot write: No space left on device\n"
			  "E: mmdebstrap failed to run\n",
			  &hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "tar: ./libzstd1_1.5.7+dfsg-1_amd64.deb: Cannot write: No space left on device");
	ASSERT_TRUE(strstr(fix, "the cache '/tmp' (root file systems and apt's downloads) is full (") == fix);
	ASSERT_TRUE(strstr(fix, "needs up to about 2.0 GiB there") != NULL);
	ASSERT_TRUE(strstr(fix, "--cache DIR") != NULL);
	diagnose_apt_text("tar: /tmp/mmdebstrap.Ab12/usr/lib/x: Cannot write: No space left on device\n", &hints,
			  cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_TRUE(strstr(fix, "TMPDIR") != NULL);
}

TEST(otherwise_the_first_e_line_that_is_a_cause)
{
	char cause[512], fix[1024];
	diagnose_apt_text("I: x\nE: apt-get update --error-on=any failed\nE: Something specific\x1b[0m\nE: mmdebstrap failed to run\n",
			  &hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "Something specific?[0m");
	ASSERT_STREQ(fix, "");
	diagnose_apt_text("E: mmdebstrap failed to run\n", &hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "mmdebstrap failed to run");
	diagnose_apt_text("nothing here\n", &hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "");
}
