/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Composition: a small rootfs tarball and two layers' overlays merged; the
 * entries' owner, mode and mtime, what is replaced, what is left out, the
 * enable symlinks and the package list. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "compose.h"
#include "tests.h"
#include "util.h"

#define SDE 1700000000
#define OLD 1600000000
#define NEW 1800000000

static char root[256];

static void put(const char *rel, const char *text, int mode)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", root, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	mk_mkdir_p(path, 0755);
	*slash = '/';
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static void add(struct archive *a, const char *path, mode_t type, int mode, long uid, time_t mtime,
		const char *data, const char *uname)
{
	struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, (mode_t)mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, uid);
	if (uname)
		archive_entry_set_uname(e, uname);
	archive_entry_set_mtime(e, mtime, 0);
	archive_entry_set_size(e, data ? (la_int64_t)strlen(data) : 0);
	archive_write_header(a, e);
	if (data)
		archive_write_data(a, data, strlen(data));
	archive_entry_free(e);
}

static const char status[] =
	"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.3\n"
	"Description: compression\n library\n\n"
	"Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n\n"
	"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 13.8\n";

static const char *make_rootfs(void)
{
	static char path[512];
	snprintf(path, sizeof(path), "%s/rootfs.tar", root);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, path);
	add(a, "./", AE_IFDIR, 0755, 0, OLD, NULL, NULL);
	add(a, "./etc/", AE_IFDIR, 0755, 0, OLD, NULL, NULL);
	add(a, "./etc/motd", AE_IFREG, 0644, 0, OLD, "debian\n", NULL);
	add(a, "./etc/kept", AE_IFREG, 0600, 0, NEW, "kept\n", "root");
	add(a, "./etc/ssh/", AE_IFDIR, 0755, 0, OLD, NULL, NULL);
	add(a, "./etc/ssh/ssh_host_ed25519_key", AE_IFREG, 0600, 0, OLD, "SECRET\n", NULL);
	add(a, "./var/lib/postgresql/", AE_IFDIR, 0700, 105, OLD, NULL, "postgres");
	add(a, "./var/log/", AE_IFDIR, 0755, 0, OLD, NULL, NULL);
	add(a, "./var/log/dpkg.log", AE_IFREG, 0644, 0, OLD, "log\n", NULL);
	add(a, "./var/lib/cloud/instance", AE_IFREG, 0644, 0, OLD, "i-1\n", NULL);
	add(a, "./var/lib/dpkg/status", AE_IFREG, 0644, 0, OLD, status, NULL);
	add(a, "./usr/lib/systemd/system/nftables.service", AE_IFREG, 0644, 0, OLD,
	    "[Unit]\nDescription=nft\n[Install]\nWantedBy=sysinit.target\n", NULL);
	archive_write_close(a);
	archive_write_free(a);
	return path;
}

struct seen {
	char path[256];
	mode_t type;
	int mode;
	long uid;
	time_t mtime;
	char data[256];
	char link[256];
	bool has_uname;
};

static int read_back(const char *path, struct seen *out, int max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int n = 0;
	archive_read_support_format_tar(a);
	archive_read_open_filename(a, path, 10240);
	while (n < max && archive_read_next_header(a, &e) == ARCHIVE_OK) {
		struct seen *s = &out[n++];
		memset(s, 0, sizeof(*s));
		snprintf(s->path, sizeof(s->path), "%s", archive_entry_pathname(e));
		size_t len = strlen(s->path);
		if (len > 1 && s->path[len - 1] == '/')
			s->path[len - 1] = '\0'; /* tar marks directories so */
		s->type = archive_entry_filetype(e);
		s->mode = archive_entry_perm(e);
		s->uid = archive_entry_uid(e);
		s->mtime = archive_entry_mtime(e);
		s->has_uname = archive_entry_uname(e) && *archive_entry_uname(e);
		if (archive_entry_symlink(e))
			snprintf(s->link, sizeof(s->link), "%s", archive_entry_symlink(e));
		la_ssize_t got = archive_read_data(a, s->data, sizeof(s->data) - 1);
		if (got > 0)
			s->data[got] = '\0';
	}
	archive_read_free(a);
	return n;
}

static struct seen *find(struct seen *all, int n, const char *path)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(all[i].path, path))
			return &all[i];
	return NULL;
}

static int count(struct seen *all, int n, const char *path)
{
	int c = 0;
	for (int i = 0; i < n; i++)
		c += !strcmp(all[i].path, path);
	return c;
}

TEST(compose_merges_with_owner_mode_mtime)
{
	snprintf(root, sizeof(root), "/tmp/mkmesh-test-compose-%d", (int)getpid());
	mk_rm_rf(root);
	mkdir(root, 0755);
	const char *tar = make_rootfs();
	/* Layer one replaces motd and adds a script and a unit; layer two
	 * overrides layer one's script. */
	put("ov1/etc/motd", "mesh\n", 0644);
	put("ov1/usr/lib/mkmesh/step", "#!/bin/sh\necho one\n", 0755);
	put("ov1/etc/mkmesh/secret.conf", "x\n", 0644);
	put("ov1/etc/systemd/system/mkmesh-a.service",
	    "[Unit]\nDescription=a\n[Install]\nWantedBy=multi-user.target\n", 0644);
	put("ov1/var/lib/postgresql/README", "pg\n", 0644);
	put("ov2/usr/lib/mkmesh/step", "#!/bin/sh\necho two\n", 0644);

	struct recipe_layer l1 = {.name = "one", .file = "one.json"}, l2 = {.name = "two", .file = "two.json"};
	char ov1[512], ov2[512];
	snprintf(ov1, sizeof(ov1), "%s/ov1", root);
	snprintf(ov2, sizeof(ov2), "%s/ov2", root);
	l1.overlay = ov1;
	l2.overlay = ov2;
	struct recipe_file_attr a1[] = {{.glob = "etc/mkmesh/*.conf", .mode = 0600, .uid = 33, .gid = 33}};
	struct recipe_file_attr a2[] = {{.glob = "usr/lib/mkmesh/*", .mode = 0750, .uid = -1, .gid = -1}};
	l1.attrs = a1;
	l1.n_attrs = 1;
	l2.attrs = a2;
	l2.n_attrs = 1;
	strv_push(&l1.enable, "mkmesh-a.service");
	strv_push(&l1.enable, "nftables.service");
	struct recipe_layer *layers[] = {&l1, &l2};
	struct recipe rec = {.layers = layers, .n_layers = 2};
	struct compose_input in = {.rootfs_tar = tar, .recipe = &rec, .source_date_epoch = SDE};
	compose_add_file(&in, "etc/fstab", "UUID=x / ext4 defaults 0 1\n", 0644);
	compose_add_file(&in, "etc/default/grub.d/50-mkmesh.cfg", "GRUB_TIMEOUT=1\n", 0644);

	char out[512], err[512] = "";
	snprintf(out, sizeof(out), "%s/out.tar", root);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct compose_result res;
	int rc = compose_run(&in, fd, &res, err, sizeof(err));
	close(fd);
	if (rc < 0)
		FAIL_AT("compose_run: %s", err);

	static struct seen all[64];
	int n = read_back(out, all, 64);
	struct seen *s;

	/* The rootfs entry is kept, its mtime clamped, its owner name dropped. */
	ASSERT_TRUE((s = find(all, n, "etc/kept")) != NULL);
	ASSERT_EQ(s->mode, 0600);
	ASSERT_EQ(s->mtime, SDE);
	ASSERT_TRUE(!s->has_uname);
	/* An older mtime stays as it was. */
	ASSERT_TRUE((s = find(all, n, "etc")) != NULL);
	ASSERT_EQ(s->mtime, OLD);
	/* The overlay replaces the rootfs' file, once. */
	ASSERT_EQ(count(all, n, "etc/motd"), 1);
	ASSERT_STREQ(find(all, n, "etc/motd")->data, "mesh\n");
	ASSERT_EQ(find(all, n, "etc/motd")->mtime, SDE);
	/* A later layer wins; the declared mode applies; a new directory is made. */
	ASSERT_EQ(count(all, n, "usr/lib/mkmesh/step"), 1);
	ASSERT_TRUE((s = find(all, n, "usr/lib/mkmesh/step")) != NULL);
	ASSERT_STREQ(s->data, "#!/bin/sh\necho two\n");
	ASSERT_EQ(s->mode, 0750);
	ASSERT_EQ(s->uid, 0);
	ASSERT_TRUE((s = find(all, n, "usr/lib/mkmesh")) != NULL);
	ASSERT_EQ(s->type, AE_IFDIR);
	ASSERT_EQ(s->mode, 0755);
	/* Declared owner and mode. */
	ASSERT_TRUE((s = find(all, n, "etc/mkmesh/secret.conf")) != NULL);
	ASSERT_EQ(s->mode, 0600);
	ASSERT_EQ(s->uid, 33);
	/* A directory the rootfs has keeps its owner and mode. */
	ASSERT_EQ(count(all, n, "var/lib/postgresql"), 1);
	ASSERT_EQ(find(all, n, "var/lib/postgresql")->uid, 105);
	ASSERT_EQ(find(all, n, "var/lib/postgresql")->mode, 0700);
	/* Instance state and logs are left out; the log directory stays. */
	ASSERT_TRUE(find(all, n, "etc/ssh/ssh_host_ed25519_key") == NULL);
	ASSERT_TRUE(find(all, n, "var/log/dpkg.log") == NULL);
	ASSERT_TRUE(find(all, n, "var/lib/cloud/instance") == NULL);
	ASSERT_TRUE(find(all, n, "var/log") != NULL);
	/* Generated files, with their parent directories. */
	ASSERT_STREQ(find(all, n, "etc/fstab")->data, "UUID=x / ext4 defaults 0 1\n");
	ASSERT_TRUE(find(all, n, "etc/default/grub.d") != NULL);
	ASSERT_TRUE(find(all, n, "etc/default/grub.d/50-mkmesh.cfg") != NULL);
	/* Units enabled as systemctl would: overlay and packaged. */
	ASSERT_TRUE((s = find(all, n, "etc/systemd/system/multi-user.target.wants/mkmesh-a.service")) != NULL);
	ASSERT_EQ(s->type, AE_IFLNK);
	ASSERT_STREQ(s->link, "/etc/systemd/system/mkmesh-a.service");
	ASSERT_TRUE((s = find(all, n, "etc/systemd/system/sysinit.target.wants/nftables.service")) != NULL);
	ASSERT_STREQ(s->link, "/usr/lib/systemd/system/nftables.service");
	/* Installed packages from the image's dpkg status, sorted. */
	ASSERT_EQ(res.n_packages, 2);
	ASSERT_STREQ(res.packages[0].name, "base-files");
	ASSERT_STREQ(res.packages[1].name, "zlib1g");
	ASSERT_STREQ(res.packages[1].version, "1:1.3");

	/* The same inputs give the same bytes. */
	char out2[512];
	snprintf(out2, sizeof(out2), "%s/out2.tar", root);
	struct compose_result res2;
	fd = open(out2, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ASSERT_EQ(compose_run(&in, fd, &res2, err, sizeof(err)), 0);
	close(fd);
	char h1[65], h2[65];
	mk_sha256_file(out, h1, NULL);
	mk_sha256_file(out2, h2, NULL);
	ASSERT_STREQ(h1, h2);

	compose_result_release(&res);
	compose_result_release(&res2);
	compose_input_release(&in);
	strv_release(&l1.enable);
	mk_rm_rf(root);
}

TEST(compose_refuses_unit_without_install_section)
{
	snprintf(root, sizeof(root), "/tmp/mkmesh-test-compose-%d", (int)getpid());
	mk_rm_rf(root);
	mkdir(root, 0755);
	const char *tar = make_rootfs();
	put("ov/etc/systemd/system/x.service", "[Unit]\nDescription=x\n", 0644);
	char ov[512], err[512] = "";
	snprintf(ov, sizeof(ov), "%s/ov", root);
	struct recipe_layer l = {.name = "l", .file = "l.json", .overlay = ov};
	strv_push(&l.enable, "x.service");
	strv_push(&l.enable, "nope.service");
	struct recipe_layer *layers[] = {&l};
	struct recipe rec = {.layers = layers, .n_layers = 1};
	struct compose_input in = {.rootfs_tar = tar, .recipe = &rec, .source_date_epoch = SDE};
	struct compose_result res;
	int fd = open("/dev/null", O_WRONLY);
	ASSERT_TRUE(compose_run(&in, fd, &res, err, sizeof(err)) < 0);
	ASSERT_STREQ(err, "enable: unit 'x.service' has no [Install] WantedBy= or RequiredBy=");
	strv_release(&l.enable);
	strv_push(&l.enable, "nope.service");
	ASSERT_TRUE(compose_run(&in, fd, &res, err, sizeof(err)) < 0);
	ASSERT_STREQ(err, "enable: unit 'nope.service' is neither in a layer's overlay nor in the installed packages");
	close(fd);
	strv_release(&l.enable);
	compose_result_release(&res);
	mk_rm_rf(root);
}

TEST(instance_state)
{
	ASSERT_TRUE(compose_is_instance_state("etc/ssh/ssh_host_rsa_key"));
	ASSERT_TRUE(compose_is_instance_state("etc/ssh/ssh_host_rsa_key.pub"));
	ASSERT_TRUE(compose_is_instance_state("var/lib/cloud/instances/x"));
	ASSERT_TRUE(compose_is_instance_state("var/lib/systemd/random-seed"));
	ASSERT_TRUE(!compose_is_instance_state("etc/ssh/sshd_config"));
	ASSERT_TRUE(!compose_is_instance_state("var/lib/cloudy"));
}

/* Unpacking BASE and then LAYERS gives what ALL gives: same paths, types,
 * modes, owners, link targets and contents (a later entry replaces). */
static int merge(struct seen *acc, int n, struct seen *add, int m)
{
	for (int i = 0; i < m; i++) {
		struct seen *old = find(acc, n, add[i].path);
		if (old)
			*old = add[i];
		else
			acc[n++] = add[i];
	}
	return n;
}

static int compose_part_to(struct compose_input *in, enum compose_part part, const char *out)
{
	char err[512];
	struct compose_result res;
	in->part = part;
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int rc = compose_run(in, fd, &res, err, sizeof(err));
	close(fd);
	if (rc < 0)
		fprintf(stderr, "compose: %s\n", err);
	compose_result_release(&res);
	return rc;
}

TEST(base_then_layers_equals_all)
{
	snprintf(root, sizeof(root), "/tmp/mkmesh-test-compose-%d", (int)getpid());
	mk_rm_rf(root);
	mkdir(root, 0755);
	const char *tar = make_rootfs();
	put("ov1/etc/motd", "mesh\n", 0644);
	put("ov1/usr/lib/mkmesh/step", "#!/bin/sh\n", 0755);
	put("ov1/etc/systemd/system/mkmesh-a.service",
	    "[Unit]\nDescription=a\n[Install]\nWantedBy=multi-user.target\n", 0644);
	put("ov1/var/lib/postgresql/README", "pg\n", 0644);
	char ov1[512];
	snprintf(ov1, sizeof(ov1), "%s/ov1", root);
	struct recipe_layer l1 = {.name = "one", .file = "one.json", .overlay = ov1};
	strv_push(&l1.enable, "mkmesh-a.service");
	strv_push(&l1.enable, "nftables.service");
	struct recipe_layer *layers[] = {&l1};
	struct recipe rec = {.layers = layers, .n_layers = 1};
	struct compose_input in = {.rootfs_tar = tar, .recipe = &rec, .source_date_epoch = SDE};
	compose_add_base_file(&in, "etc/fstab", "UUID=x / ext4 defaults 0 1\n", 0644);
	compose_add_file(&in, "etc/mkmesh/build.json", "{}\n", 0644);

	char all[512], base[512], lay[512];
	snprintf(all, sizeof(all), "%s/all.tar", root);
	snprintf(base, sizeof(base), "%s/base.tar", root);
	snprintf(lay, sizeof(lay), "%s/layers.tar", root);
	ASSERT_EQ(compose_part_to(&in, COMPOSE_ALL, all), 0);
	ASSERT_EQ(compose_part_to(&in, COMPOSE_BASE, base), 0);
	ASSERT_EQ(compose_part_to(&in, COMPOSE_LAYERS, lay), 0);

	static struct seen a[64], b[128], l[64];
	int na = read_back(all, a, 64), nb = read_back(base, b, 64), nl = read_back(lay, l, 64);
	/* The base has no layer files; the layers no package files. */
	ASSERT_TRUE(find(b, nb, "etc/mkmesh/build.json") == NULL);
	ASSERT_TRUE(find(b, nb, "usr/lib/mkmesh/step") == NULL);
	ASSERT_TRUE(find(b, nb, "etc/fstab") != NULL);
	ASSERT_TRUE(find(l, nl, "etc/kept") == NULL);
	ASSERT_TRUE(find(l, nl, "var/lib/dpkg/status") == NULL);
	/* A directory of the rootfs is not re-made (its owner would change). */
	ASSERT_TRUE(find(l, nl, "var/lib/postgresql") == NULL);
	ASSERT_TRUE(find(l, nl, "etc/systemd/system/sysinit.target.wants/nftables.service") != NULL);
	int nm = merge(b, nb, l, nl);
	ASSERT_EQ(nm, na);
	for (int i = 0; i < na; i++) {
		struct seen *m = find(b, nm, a[i].path);
		if (!m)
			FAIL_AT("'%s' is missing from base + layers", a[i].path);
		if (m->type != a[i].type || m->mode != a[i].mode || m->uid != a[i].uid ||
		    strcmp(m->data, a[i].data) || strcmp(m->link, a[i].link))
			FAIL_AT("'%s' differs between all and base + layers", a[i].path);
	}
	compose_input_release(&in);
	strv_release(&l1.enable);
	mk_rm_rf(root);
}

TEST(dep5_licenses)
{
	char *l = compose_dep5_license(
		"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
		"Upstream-Name: foo\n\n"
		"Files: *\nCopyright: 2020 A\nLicense: GPL-2+\n\n"
		"Files: lib/*\nCopyright: 2020 B\nLicense: Expat\n\n"
		"Files: debian/*\nCopyright: 2020 C\nLicense: GPL-2+\n\n"
		"Files: x/*\nCopyright: 2020 D\nLicense: GPL-2+ or Artistic\n\n"
		"License: GPL-2+\n This program is free software ...\n .\n On Debian systems ...\n\n"
		"License: Expat\n Permission is hereby granted ...\n");
	ASSERT_STREQ(l, "Expat AND GPL-2+ AND (GPL-2+ or Artistic)");
	free(l);
	/* without Files paragraphs, the header's License: */
	l = compose_dep5_license("Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0\n"
				 "License: MIT\n");
	ASSERT_STREQ(l, "MIT");
	free(l);
	/* free-form copyright files are not guessed at */
	ASSERT_TRUE(compose_dep5_license("This package was debianized by ...\n\nLicense: GPL\n") == NULL);
	ASSERT_TRUE(compose_dep5_license("") == NULL);
}

/* The package list read from a rootfs tarball alone (for a rebuild's
 * check), and its errors: a missing file, a tarball cut inside the dpkg
 * status, one cut after it. What the reading held is freed on every
 * return (make SANITIZE=address shows a leak as a failure). */
TEST(rootfs_packages_and_their_errors)
{
	snprintf(root, sizeof(root), "/tmp/mkmesh-test-compose-pkgs-%d", (int)getpid());
	mk_rm_rf(root);
	mkdir(root, 0755);
	const char *tar = make_rootfs();
	struct compose_result res;
	char err[512] = "";
	ASSERT_EQ(compose_rootfs_packages(tar, &res, err, sizeof(err)), 0);
	ASSERT_EQ(res.n_packages, 2);
	ASSERT_STREQ(res.packages[0].name, "base-files");
	ASSERT_STREQ(res.packages[1].name, "zlib1g");
	ASSERT_STREQ(res.packages[1].version, "1:1.3");
	compose_result_release(&res);

	_cleanup_free_ char *missing = xasprintf("%s/none.tar", root);
	ASSERT_TRUE(compose_rootfs_packages(missing, &res, err, sizeof(err)) < 0);
	ASSERT_TRUE(strstr(err, missing) != NULL);
	ASSERT_EQ(res.n_packages, 0);
	compose_result_release(&res);

	/* cut inside the status file's data, then inside the entry after it */
	char *data = NULL;
	size_t len = 0;
	ASSERT_EQ(mk_read_file(tar, &data, &len), 0);
	const char *at = memmem(data, len, "Package: zlib1g", 15);
	ASSERT_TRUE(at != NULL);
	const char *after = memmem(data, len, "nftables.service", 16);
	ASSERT_TRUE(after != NULL);
	size_t cuts[] = {(size_t)(at - data) + 40, (size_t)(after - data) + 700};
	for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
		_cleanup_free_ char *cut = xasprintf("%s/cut%zu.tar", root, i);
		ASSERT_EQ(mk_write_file_atomic(cut, data, cuts[i], 0644), 0);
		err[0] = '\0';
		int rc = compose_rootfs_packages(cut, &res, err, sizeof(err));
		if (i == 0) {
			ASSERT_TRUE(rc < 0);
			ASSERT_TRUE(strstr(err, "var/lib/dpkg/status") != NULL);
			ASSERT_EQ(res.n_packages, 0);
		} else {
			/* the status was read whole: what comes after is not read */
			ASSERT_EQ(rc, 0);
			ASSERT_EQ(res.n_packages, 2);
		}
		compose_result_release(&res);
	}
	free(data);
	mk_rm_rf(root);
}
