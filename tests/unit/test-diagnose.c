/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading a failed tool's log: the line that names the cause and the fix,
 * on logs of real mmdebstrap runs on this archive (tests/fixtures/logs:
 * sid's expired Release, a captive page, a proxy asking for a login, a
 * package that does not exist) and on dpkg's and tar's own words; the
 * disk stage's libguestfs errors as real builds got them (tar in the
 * appliance on a disk.size of 400M, a recipe without grub-pc, one with
 * grub2-common instead: grub-install's own error). */
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

static const struct diagnose_hints disk_hints = {.recipe_file = "recipes/droplet.json", .disk_size = 400ULL << 20,
						 .tree_bytes = 490000000, .tree_entries = 20000};

static char *fixture(const char *name)
{
	char path[256];
	char *text = NULL;
	snprintf(path, sizeof(path), "tests/fixtures/logs/%s", name);
	if (mk_read_file(path, &text, NULL) < 0) {
		fprintf(stderr, "cannot read %s (run from the top of the tree)\n", path);
		abort();
	}
	return text;
}

TEST(disk_too_small_names_disk_size_and_the_tree)
{
	char cause[512], fix[1024];
	_cleanup_free_ char *text = fixture("guestfs-tar-nospace.log");
	diagnose_disk_text(text, &disk_hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "tar: usr/libexec/sudo/group_file.so: Cannot write: No space left on device");
	/* (490000000 + 20000 blocks of 4 KiB) * 5/4, in steps of 256M */
	ASSERT_STREQ(fix, "the root file system does not fit on the disk: 'recipes/droplet.json' has \"disk\": "
			  "{\"size\": \"400M\"} and the tree is about 467.3 MiB in 20000 files and directories; "
			  "make disk.size at least \"768M\" (or leave layers out with --without)");
	struct diagnose_hints big = disk_hints;
	big.tree_bytes = 3ULL << 30;
	diagnose_disk_text(text, &big, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_TRUE(strstr(fix, "about 3.0 GiB in 20000 files") != NULL);
	ASSERT_TRUE(strstr(fix, "at least \"4G\"") != NULL);
}

TEST(grub_missing_names_grub_pc)
{
	char cause[512], fix[1024];
	_cleanup_free_ char *text = fixture("guestfs-grub-probe-missing.log");
	diagnose_disk_text(text, &disk_hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "command: sh: 1: grub-probe: not found");
	ASSERT_TRUE(strstr(fix, "the package grub-pc, which 'recipes/droplet.json' must have in its \"packages\"") != NULL);
}

TEST(grub_install_error_is_grubs_own)
{
	char cause[512], fix[1024];
	_cleanup_free_ char *text = fixture("guestfs-grub-install-no-i386-pc.log");
	diagnose_disk_text(text, &disk_hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "command: grub-install: error: /usr/lib/grub/i386-pc/modinfo.sh doesn't exist. Please "
			    "specify --target or --directory.");
	ASSERT_STREQ(fix, "the image has grub-install but not grub-pc's BIOS boot files (/usr/lib/grub/i386-pc): "
			  "'recipes/droplet.json' must have \"grub-pc\" in its \"packages\" (grub2-common or "
			  "grub-efi-* alone cannot boot a droplet)");
	/* Another error of grub-install's: its line, no fix. */
	diagnose_disk_text("command: grub-install: error: embedding is not possible.\n", &disk_hints, cause,
			   sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "command: grub-install: error: embedding is not possible.");
	ASSERT_STREQ(fix, "");
}

TEST(disk_otherwise_the_first_error_line_or_the_last)
{
	char cause[512], fix[1024];
	diagnose_disk_text("debug: starting\nmke2fs: Could not allocate block\nmore\n", &disk_hints, cause,
			   sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "mke2fs: Could not allocate block");
	ASSERT_STREQ(fix, "");
	diagnose_disk_text("starting\nthe end\n\n", &disk_hints, cause, sizeof(cause), fix, sizeof(fix));
	ASSERT_STREQ(cause, "the end");
	diagnose_disk_text("a\nparted: error: the partition is too small\nb\n", &disk_hints, cause, sizeof(cause),
			   fix, sizeof(fix));
	ASSERT_STREQ(cause, "parted: error: the partition is too small");
}

TEST(disk_failure_message_and_log)
{
	char log[] = "/tmp/test-diagnose-XXXXXX";
	int fd = mkstemp(log);
	ASSERT_TRUE(fd >= 0);
	close(fd);
	_cleanup_free_ char *text = fixture("guestfs-tar-nospace.log");
	char err[4096];
	snprintf(err, sizeof(err), "unpack the tree into the image: %s", text);
	diagnose_disk_failure(log, &disk_hints, text, err, sizeof(err));
	_cleanup_free_ char *want = xasprintf(
		"unpack the tree into the image: tar: usr/libexec/sudo/group_file.so: Cannot write: No space left on "
		"device\n  fix: the root file system does not fit on the disk: 'recipes/droplet.json' has \"disk\": "
		"{\"size\": \"400M\"} and the tree is about 467.3 MiB in 20000 files and directories; make disk.size "
		"at least \"768M\" (or leave layers out with --without)\n  its log is '%s'",
		log);
	ASSERT_STREQ(err, want);
	_cleanup_free_ char *logged = NULL;
	ASSERT_TRUE(mk_read_file(log, &logged, NULL) == 0);
	static const char head[] = "mkmesh: unpack the tree into the image failed:\n";
	ASSERT_TRUE(!strncmp(logged, head, strlen(head)));
	ASSERT_TRUE(!strncmp(logged + strlen(head), text, strlen(text))); /* all of it */
	/* One line mkmesh knows nothing about: left as it is. */
	snprintf(err, sizeof(err), "mount the root file system: mount: /dev/sda1: wrong fs type");
	diagnose_disk_failure(log, &disk_hints, NULL, err, sizeof(err));
	ASSERT_STREQ(err, "mount the root file system: mount: /dev/sda1: wrong fs type");
	unlink(log);
}

TEST(output_full_names_directory_need_and_free)
{
	char fix[1024];
	diagnose_output_full("/", "the image", 160ULL << 20, fix, sizeof(fix));
	ASSERT_TRUE(strstr(fix, "the output directory '/' is full: the image needs about 160.0 MiB there, and ") == fix);
	ASSERT_TRUE(strstr(fix, " MiB is free (nothing half-written was left in it); free space there, or give "
				"--out DIR on a bigger disk") != NULL ||
		    strstr(fix, " GiB is free (nothing half-written was left in it); free space there, or give "
				"--out DIR on a bigger disk") != NULL);
	diagnose_output_full("/", "the manifest", 0, fix, sizeof(fix));
	ASSERT_TRUE(strstr(fix, "the output directory '/' is full: ") == fix);
	ASSERT_TRUE(strstr(fix, "needs") == NULL);
}
