/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Fetching artifacts through the real path (libcurl, here on file:// URLs),
 * the content-addressed cache, --artifacts, hash mismatches, and detached
 * signatures checked with gpgv against a key made for the test. */
#include <sys/stat.h>

#include "fetch.h"
#include "tests.h"
#include "util.h"

static char dir[256];

static void sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		abort();
	}
}

static void setup(void)
{
	if (dir[0])
		return;
	snprintf(dir, sizeof(dir), "/tmp/mkmesh-test-fetch-%d", (int)getpid());
	mk_rm_rf(dir);
	sh("mkdir -p %s/srv %s/cache %s/local %s/gnupg && chmod 700 %s/gnupg", dir, dir, dir, dir, dir);
	sh("printf 'release v1\\n' > %s/srv/thing-1.0.tar.gz", dir);
	/* Two throwaway keys: the pinned one and another. */
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --passphrase '' --quick-gen-key 'mkmesh test <t@example.test>' ed25519 sign never 2>/dev/null",
	   dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --passphrase '' --quick-gen-key 'other <o@example.test>' ed25519 sign never 2>/dev/null",
	   dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --export 't@example.test' > %s/key.gpg", dir, dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --armor --export 't@example.test' > %s/key.asc", dir, dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --export 'o@example.test' > %s/other.gpg", dir, dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --with-colons --list-keys t@example.test | awk -F: '/^fpr/ { print $10; exit }' > %s/fpr",
	   dir, dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --local-user t@example.test --armor --detach-sign -o %s/srv/thing-1.0.tar.gz.asc %s/srv/thing-1.0.tar.gz",
	   dir, dir, dir);
	sh("GNUPGHOME=%s/gnupg gpg -q --batch --local-user o@example.test --armor --detach-sign -o %s/srv/by-other.asc %s/srv/thing-1.0.tar.gz",
	   dir, dir, dir);
}

static void sha_of(const char *rel, char out[65])
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	mk_sha256_file(p, out, NULL);
}

static char *fpr(void)
{
	static char f[64];
	char p[512], *text = NULL;
	snprintf(p, sizeof(p), "%s/fpr", dir);
	mk_read_file(p, &text, NULL);
	snprintf(f, sizeof(f), "%.40s", text);
	free(text);
	return f;
}

TEST(artifact_download_verifies_and_caches)
{
	char url[600], cache[512], sha[65], err[1024], *path = NULL;
	setup();
	sha_of("srv/thing-1.0.tar.gz", sha);
	snprintf(url, sizeof(url), "file://%s/srv/thing-1.0.tar.gz", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ASSERT_EQ(fetch_artifact(url, sha, cache, NULL, &path, err, sizeof(err)), 0);
	char want[700];
	snprintf(want, sizeof(want), "%s/artifacts/%s", cache, sha);
	ASSERT_STREQ(path, want);
	free(path);
	/* From the cache even when the URL is gone. */
	ASSERT_EQ(fetch_artifact("file:///nonexistent/thing-1.0.tar.gz", sha, cache, NULL, &path, err,
				 sizeof(err)), 0);
	free(path);
}

TEST(artifact_mismatch_names_file_expected_and_actual)
{
	char url[600], cache[512], sha[65], err[1024], expect[1400], *path = NULL;
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
	setup();
	sha_of("srv/thing-1.0.tar.gz", sha);
	snprintf(url, sizeof(url), "file://%s/srv/thing-1.0.tar.gz", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ASSERT_EQ(fetch_artifact(url, wrong, cache, NULL, &path, err, sizeof(err)), -MK_ERR_CHECKSUM);
	snprintf(expect, sizeof(expect), "'%s' does not match its pinned sha256: expected %s, got %s", url,
		 wrong, sha);
	ASSERT_STREQ(err, expect);
	/* Nothing unverified stays in the cache. */
	char bad[700];
	snprintf(bad, sizeof(bad), "%s/artifacts/%s", cache, wrong);
	ASSERT_TRUE(!mk_path_exists(bad));
	snprintf(bad, sizeof(bad), "%s/artifacts/%s.new", cache, wrong);
	ASSERT_TRUE(!mk_path_exists(bad));
}

TEST(artifacts_dir_stands_in_for_the_download)
{
	char cache[512], local[512], sha[65], err[1024], *path = NULL;
	setup();
	sh("printf 'offline copy\\n' > %s/local/offline-2.0.tar.gz", dir);
	sha_of("local/offline-2.0.tar.gz", sha);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	snprintf(local, sizeof(local), "%s/local", dir);
	ASSERT_EQ(fetch_artifact("https://unreachable.invalid/x/offline-2.0.tar.gz", sha, cache, local,
				 &path, err, sizeof(err)), 0);
	free(path);
	ASSERT_EQ(fetch_artifact("https://unreachable.invalid/x/missing-1.tar.gz", sha, "/tmp/mkmesh-none",
				 local, &path, err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, "is not in --artifacts") != NULL);
}

TEST(unreachable_url_is_a_network_error_naming_it)
{
	char cache[512], err[1024], *path = NULL;
	setup();
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	ASSERT_EQ(fetch_artifact("http://127.0.0.1:9/x/thing.tar.gz",
				 "1111111111111111111111111111111111111111111111111111111111111111", cache,
				 NULL, &path, err, sizeof(err)), -MK_ERR_NETWORK);
	ASSERT_TRUE(strstr(err, "cannot download 'http://127.0.0.1:9/x/thing.tar.gz'") != NULL);
}

TEST(signatures)
{
	char data[512], sig[512], other_sig[512], key[512], asc[512], other[512], err[1024];
	setup();
	snprintf(data, sizeof(data), "%s/srv/thing-1.0.tar.gz", dir);
	snprintf(sig, sizeof(sig), "%s/srv/thing-1.0.tar.gz.asc", dir);
	snprintf(other_sig, sizeof(other_sig), "%s/srv/by-other.asc", dir);
	snprintf(key, sizeof(key), "%s/key.gpg", dir);
	snprintf(asc, sizeof(asc), "%s/key.asc", dir);
	snprintf(other, sizeof(other), "%s/other.gpg", dir);
	ASSERT_EQ(fetch_verify_signature(data, sig, key, fpr(), err, sizeof(err)), 0);
	ASSERT_EQ(fetch_verify_signature(data, sig, asc, fpr(), err, sizeof(err)), 0);
	/* Signed by another key. */
	ASSERT_EQ(fetch_verify_signature(data, other_sig, key, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	/* The right signature, but the key file is not the pinned key. */
	ASSERT_EQ(fetch_verify_signature(data, other_sig, other, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "not by the pinned key") != NULL);
	/* Tampered data. */
	sh("cp %s %s.bad && printf x >> %s.bad", data, data, data);
	char bad[600];
	snprintf(bad, sizeof(bad), "%s.bad", data);
	ASSERT_EQ(fetch_verify_signature(bad, sig, key, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	/* Key fingerprints. */
	ASSERT_EQ(fetch_check_key(key, fpr(), err, sizeof(err)), 0);
	ASSERT_EQ(fetch_check_key(asc, fpr(), err, sizeof(err)), 0);
	ASSERT_EQ(fetch_check_key(other, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_EQ(fetch_check_key(data, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	/* The pinned key and another in one file: it would become the source's
	 * keyring with both. */
	char both[600];
	snprintf(both, sizeof(both), "%s/both.gpg", dir);
	sh("cat %s %s > %s", key, other, both);
	ASSERT_EQ(fetch_check_key(both, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "holds 2 keys, the pinned one and others") != NULL);
	sh("cat %s %s > %s", other, key, both);
	ASSERT_EQ(fetch_check_key(both, fpr(), err, sizeof(err)), -MK_ERR_CHECKSUM);
	ASSERT_TRUE(strstr(err, "holds 2 keys") != NULL);
	/* apt's keyring for signed-by=: binary, whether the source publishes
	 * the key armored or not (apt ignores an armored NAME.gpg). */
	char ring[600];
	snprintf(ring, sizeof(ring), "%s/ring.gpg", dir);
	ASSERT_EQ(fetch_keyring(asc, ring, err, sizeof(err)), 0);
	sh("cmp -s %s %s", ring, key);
	ASSERT_EQ(fetch_keyring(key, ring, err, sizeof(err)), 0);
	sh("cmp -s %s %s && test ! -e %s.tmp", ring, key, ring);
	mk_rm_rf(dir);
}
