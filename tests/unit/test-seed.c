/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mkmesh seed's pieces: what it shares with deploy (site_args.c: key lines,
 * --ssh-key files, host names, the default name) and the seed itself
 * (seed.c: meta-data, the cidata ISO read back with libarchive, the files in
 * a directory), written without leaving a temporary file or overwriting.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests.h"
#include "seed.h"
#include "site_args.h"
#include "util.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfLh7lYk0BkV2Jm1m4hL8bq8QmZ1iXh8yV0s8nI9Xb2 alice@laptop"

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/mkmesh-test-seed.XXXXXX");
	if (!mkdtemp(d))
		abort();
	return d;
}

static void put(const char *path, const char *text)
{
	if (mk_write_file_atomic(path, text, strlen(text), 0600) < 0)
		abort();
}

/* The names in DIR (sorted, space-separated). */
static char *names(const char *dir)
{
	struct strv v = {0};
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			strv_push(&v, e->d_name);
	if (d)
		closedir(d);
	strv_sort(&v);
	char *out = xstrdup("");
	for (size_t i = 0; i < v.n; i++) {
		char *n = xasprintf("%s%s%s", out, i ? " " : "", v.v[i]);
		free(out);
		out = n;
	}
	strv_release(&v);
	return out;
}

TEST(pubkey_valid)
{
	ASSERT_TRUE(site_args_pubkey_valid(KEY));
	ASSERT_TRUE(site_args_pubkey_valid("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB"));
	ASSERT_TRUE(site_args_pubkey_valid("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= c"));
	ASSERT_TRUE(site_args_pubkey_valid("sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t"));
	ASSERT_TRUE(site_args_pubkey_valid("ssh-ed25519  AAAAC3NzaC1lZDI1NTE5AAAA comment with spaces"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519\tAAAAC3NzaC1lZDI1NTE5AAAA")); /* a control character */
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 "));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAA me@host"));             /* too short */
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAA")); /* not 4n */
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAAC3Nza=C1lZDI1NTE5AAAA"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AA\"A"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me\xc2\x85runcmd"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA me\nx"));
	ASSERT_TRUE(!site_args_pubkey_valid("AAAAC3NzaC1lZDI1NTE5AAAA"));
	ASSERT_TRUE(!site_args_pubkey_valid("-----BEGIN OPENSSH PRIVATE KEY-----"));
	ASSERT_TRUE(!site_args_pubkey_valid("ssh-e\"d AAAAC3NzaC1lZDI1NTE5AAAA"));
}

TEST(hostname_and_default_name)
{
	_cleanup_free_ char *n = site_args_default_name("mesh.example.org");
	ASSERT_STREQ(n, "mkmesh-mesh-example-org");
	ASSERT_TRUE(site_args_hostname_valid(n));
	ASSERT_TRUE(site_args_hostname_valid("a"));
	ASSERT_TRUE(site_args_hostname_valid("mesh-1.example.org"));
	ASSERT_TRUE(site_args_hostname_valid("0pi"));
	ASSERT_TRUE(!site_args_hostname_valid(""));
	ASSERT_TRUE(!site_args_hostname_valid("-a"));
	ASSERT_TRUE(!site_args_hostname_valid("a-"));
	ASSERT_TRUE(!site_args_hostname_valid("a..b"));
	ASSERT_TRUE(!site_args_hostname_valid(".a"));
	ASSERT_TRUE(!site_args_hostname_valid("a."));
	ASSERT_TRUE(!site_args_hostname_valid("Mesh"));
	ASSERT_TRUE(!site_args_hostname_valid("a_b"));
	ASSERT_TRUE(!site_args_hostname_valid("a b"));
	ASSERT_TRUE(!site_args_hostname_valid("a\nlocal-hostname: x"));
	char l63[64], l64[65], big[300];
	memset(l63, 'a', 63), l63[63] = '\0';
	memset(l64, 'a', 64), l64[64] = '\0';
	ASSERT_TRUE(site_args_hostname_valid(l63));
	ASSERT_TRUE(!site_args_hostname_valid(l64));
	snprintf(big, sizeof(big), "%s.%s.%s.%s", l63, l63, l63, l63); /* 255 */
	ASSERT_TRUE(!site_args_hostname_valid(big));
	big[253] = '\0';
	ASSERT_TRUE(site_args_hostname_valid(big));
}

TEST(add_key)
{
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *good = xasprintf("%s/keys.pub", d), *priv = xasprintf("%s/id", d),
			    *none = xasprintf("%s/none.pub", d), *bad = xasprintf("%s/bad.pub", d),
			    *missing = xasprintf("%s/missing.pub", d);
	put(good, "# my keys\r\n" KEY "\r\n\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB bob\n");
	put(priv, "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n");
	put(none, "hello\n");
	put(bad, KEY "\nssh-ed25519 AAAA\n");
	struct strv k = {0};
	fprintf(stderr, "  (refusals below are expected)\n");
	ASSERT_EQ(site_args_add_key(&k, good), 0);
	ASSERT_EQ(k.n, 2);
	ASSERT_STREQ(k.v[0], KEY);
	ASSERT_STREQ(k.v[1], "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAB bob");
	ASSERT_EQ(site_args_add_key(&k, KEY), 0);
	ASSERT_EQ(k.n, 3);
	ASSERT_EQ(site_args_add_key(&k, priv), -EINVAL);
	ASSERT_EQ(site_args_add_key(&k, none), -EINVAL);
	ASSERT_EQ(site_args_add_key(&k, bad), -EINVAL);
	ASSERT_EQ(site_args_add_key(&k, missing), -ENOENT);
	ASSERT_EQ(site_args_add_key(&k, "12345"), -ENOENT); /* deploy's key id */
	ASSERT_EQ(site_args_add_key(&k, "ssh-ed25519 AAAA"), -EINVAL);
	ASSERT_EQ(site_args_add_key(&k, d), -EINVAL); /* a directory */
	ASSERT_EQ(k.n, 3);
	strv_release(&k);
	mk_rm_rf(d);
}

TEST(meta_data)
{
	_cleanup_free_ char *a = seed_meta_data("#cloud-config\n", "mesh-1");
	_cleanup_free_ char *b = seed_meta_data("#cloud-config\n", "mesh-1");
	_cleanup_free_ char *c = seed_meta_data("#cloud-config\n", "mesh-2");
	_cleanup_free_ char *e = seed_meta_data("#cloud-config\n\n", "mesh-1");
	ASSERT_STREQ(a, b);
	ASSERT_TRUE(strcmp(a, c) && strcmp(a, e));
	ASSERT_TRUE(!strncmp(a, "instance-id: iid-mkmesh-", 24));
	ASSERT_EQ(strcspn(a + 24, "\n"), 16);
	ASSERT_EQ(strspn(a + 24, "0123456789abcdef"), 16);
	ASSERT_STREQ(a + 24 + 16, "\nlocal-hostname: mesh-1\n");
}

static const struct seed_file files[] = {
	{"user-data", "#cloud-config\nssh_authorized_keys: []\n", 38},
	{"meta-data", "instance-id: iid-x\nlocal-hostname: h\n", 37},
};

TEST(iso)
{
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *iso = xasprintf("%s/seed.iso", d);
	char err[512] = "";
	ASSERT_EQ(seed_write_iso(iso, files, 2, false, err, sizeof(err)), 0);
	_cleanup_free_ char *ls = names(d);
	ASSERT_STREQ(ls, "seed.iso");
	struct stat st;
	ASSERT_EQ(stat(iso, &st), 0);
	ASSERT_EQ(st.st_mode & 07777, 0600);

	/* Read back: the names (Rock Ridge), the content, the label. */
	struct archive *a = archive_read_new();
	archive_read_support_format_iso9660(a);
	ASSERT_EQ(archive_read_open_filename(a, iso, 10240), ARCHIVE_OK);
	struct archive_entry *e;
	int seen = 0;
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		for (size_t i = 0; i < 2; i++) {
			if (strcmp(archive_entry_pathname(e), files[i].name))
				continue;
			char buf[128] = "";
			ASSERT_EQ(archive_read_data(a, buf, sizeof(buf) - 1), (long long)files[i].len);
			ASSERT_STREQ(buf, files[i].data);
			seen |= 1 << i;
		}
	}
	archive_read_free(a);
	ASSERT_EQ(seen, 3);
	char vd[2048];
	int fd = open(iso, O_RDONLY);
	ASSERT_TRUE(fd >= 0);
	ASSERT_EQ(pread(fd, vd, sizeof(vd), 16 * 2048), (long long)sizeof(vd));
	close(fd);
	ASSERT_EQ(vd[0], 1);
	ASSERT_TRUE(!memcmp(vd + 1, "CD001", 5));
	ASSERT_TRUE(!strncasecmp(vd + 40, "cidata ", 7));

	/* An existing output is kept, byte for byte, and nothing is left. */
	put(iso, "mine\n");
	ASSERT_EQ(seed_write_iso(iso, files, 2, false, err, sizeof(err)), -EEXIST);
	ASSERT_TRUE(strstr(err, "exists") != NULL);
	_cleanup_free_ char *text = NULL;
	size_t len;
	ASSERT_EQ(mk_read_file(iso, &text, &len), 0);
	ASSERT_STREQ(text, "mine\n");
	_cleanup_free_ char *ls2 = names(d);
	ASSERT_STREQ(ls2, "seed.iso");
	ASSERT_EQ(seed_write_iso(iso, files, 2, true, err, sizeof(err)), 0);
	ASSERT_EQ(stat(iso, &st), 0);
	ASSERT_TRUE(st.st_size > 5);

	/* A directory that cannot be written: nothing made. */
	_cleanup_free_ char *nodir = xasprintf("%s/no/such/seed.iso", d);
	ASSERT_EQ(seed_write_iso(nodir, files, 2, false, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(seed_write_iso(d, files, 2, true, err, sizeof(err)), -EISDIR);
	_cleanup_free_ char *ls3 = names(d);
	ASSERT_STREQ(ls3, "seed.iso");
	mk_rm_rf(d);
}

TEST(dir)
{
	_cleanup_free_ char *d = tmpdir();
	_cleanup_free_ char *file = xasprintf("%s/file", d), *fat = xasprintf("%s/fat", d),
			    *ud = xasprintf("%s/fat/user-data", d), *md = xasprintf("%s/fat/meta-data", d);
	char err[512] = "";
	put(file, "x");
	ASSERT_EQ(seed_write_dir(file, files, 2, false, err, sizeof(err)), -ENOTDIR);
	ASSERT_EQ(seed_write_dir(fat, files, 2, false, err, sizeof(err)), -ENOENT);
	ASSERT_EQ(mkdir(fat, 0755), 0);
	ASSERT_EQ(seed_write_dir(fat, files, 2, false, err, sizeof(err)), 0);
	_cleanup_free_ char *ls = names(fat);
	ASSERT_STREQ(ls, "meta-data user-data");
	_cleanup_free_ char *t1 = NULL, *t2 = NULL;
	size_t len;
	ASSERT_EQ(mk_read_file(ud, &t1, &len), 0);
	ASSERT_STREQ(t1, files[0].data);
	ASSERT_EQ(mk_read_file(md, &t2, &len), 0);
	ASSERT_STREQ(t2, files[1].data);

	/* One file there: none written, no temporary left. */
	ASSERT_EQ(unlink(ud), 0);
	put(md, "mine\n");
	ASSERT_EQ(seed_write_dir(fat, files, 2, false, err, sizeof(err)), -EEXIST);
	ASSERT_TRUE(strstr(err, "meta-data") != NULL);
	_cleanup_free_ char *ls2 = names(fat);
	ASSERT_STREQ(ls2, "meta-data");
	ASSERT_EQ(seed_write_dir(fat, files, 2, true, err, sizeof(err)), 0);
	_cleanup_free_ char *ls3 = names(fat);
	ASSERT_STREQ(ls3, "meta-data user-data");
	mk_rm_rf(d);
}
