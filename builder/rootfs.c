/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fetch.h"

/* Bump when the way we call mmdebstrap changes, so old caches are not used. */
#define ROOTFS_FORMAT "mkmesh-rootfs-3"
#define ROOTFS_KEEP 4 /* cached tarballs kept, newest first */
#define PINS_FILE "zz-mkmesh-rebuild.pref"

const char *rootfs_host_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#else
	return "unknown";
#endif
}

int rootfs_check_emulation(const char *arch, char *err, size_t errlen)
{
	static const struct {
		const char *deb, *qemu;
	} map[] = {{"arm64", "aarch64"}, {"amd64", "x86_64"}};
	const char *qemu = NULL;

	if (strcmp(arch, rootfs_host_arch()) == 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(map); i++)
		if (!strcmp(map[i].deb, arch))
			qemu = map[i].qemu;
	if (!qemu) {
		snprintf(err, errlen, "no emulation known for architecture '%s'", arch);
		return -ENOTSUP;
	}
	_cleanup_free_ char *entry = xasprintf("/proc/sys/fs/binfmt_misc/qemu-%s", qemu);
	_cleanup_free_ char *state = NULL;
	if (!mk_path_exists("/proc/sys/fs/binfmt_misc/status") ||
	    mk_read_file(entry, &state, NULL) < 0 || strncmp(state, "enabled", 7) != 0) {
		snprintf(err, errlen,
			 "%s binaries cannot run on this %s machine: qemu-%s is not registered in binfmt_misc.\n"
			 "  fix it as root with:\n"
			 "    apt-get install qemu-user-static binfmt-support\n"
			 "    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc\n"
			 "    update-binfmts --enable qemu-%s",
			 arch, rootfs_host_arch(), qemu, qemu);
		return -ENOEXEC;
	}
	return 0;
}

static char *mmdebstrap_version(void)
{
	_cleanup_pclose_ FILE *p = popen("mmdebstrap --version 2>/dev/null", "re");
	char line[128] = "";
	if (!p || !fgets(line, sizeof(line), p))
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return xstrdup(line);
}

static char *join(const struct strv *s, const char *sep);

char *rootfs_source_line(const struct recipe *r, const struct recipe_apt_source *s,
			 const char *signed_by)
{
	_cleanup_free_ char *comps = join(&s->components, " ");
	return xasprintf("deb %s%s%s%s %s %s", signed_by ? "[signed-by=" : "", signed_by ? signed_by : "",
			 signed_by ? "] " : "", s->uri, s->suite ? s->suite : r->suite, comps);
}

/* Everything that changes the tarball goes into the key. */
static char *cache_key(const struct recipe *r, const struct artifacts *dl, const char *mmver,
		       const struct strv *pkgs)
{
	char *text = NULL, hash[65];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	fprintf(f, "%s\n%s\narch=%s\nsuite=%s\nmirror=%s\nvalid-until=%d\n", ROOTFS_FORMAT, mmver,
		r->arch, r->suite, r->mirror, r->check_valid_until);
	for (size_t i = 0; i < r->components.n; i++)
		fprintf(f, "component=%s\n", r->components.v[i]);
	for (size_t i = 0; i < pkgs->n; i++)
		fprintf(f, "package=%s\n", pkgs->v[i]);
	for (size_t i = 0; i < r->pins.n; i++)
		fprintf(f, "pin=%s\n", r->pins.v[i]);
	/* mmdebstrap, dpkg and the maintainer scripts (shadow's dates) use it. */
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde)
		fprintf(f, "source-date-epoch=%s\n", sde);
	for (size_t i = 0; i < dl->n_keys; i++) {
		_cleanup_free_ char *line = rootfs_source_line(r, dl->keys[i].source, NULL);
		fprintf(f, "source=%s key=%s\n", line, dl->keys[i].source->key_fingerprint);
	}
	/* Only when there are any, so that other targets' keys stay as they were. */
	for (size_t i = 0; i < r->setup_paths.n; i++) {
		char sum[65] = "";
		mk_sha256_file(r->setup_sources.v[i], sum, NULL);
		fprintf(f, "setup-file=%s sha256=%s\n", r->setup_paths.v[i], sum);
	}
	fclose(f);
	mk_sha256_hex(text, len, hash);
	free(text);
	return xstrdup(hash);
}

void rootfs_result_release(struct rootfs_result *res)
{
	free(res->tar_path);
	free(res->key);
	*res = (struct rootfs_result){0};
}

static char *join(const struct strv *s, const char *sep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	for (size_t i = 0; i < s->n; i++)
		fprintf(f, "%s%s", i ? sep : "", s->v[i]);
	fclose(f);
	return text;
}

/* Runs mmdebstrap into TAR (via a temporary name). The apt archive cache goes
 * in and comes out by hooks, as mmdebstrap's manual shows. */
static int make_tarball(const struct recipe *r, const struct artifacts *dl, const struct strv *pkgs,
			const char *aptdir, const char *prefs, const char *tar, const char *log_path,
			char *err, size_t errlen)
{
	_cleanup_free_ char *include = join(pkgs, ",");
	_cleanup_free_ char *comps = join(&r->components, ",");
	/* mmdebstrap picks its output format from the name: keep ".tar" last. */
	_cleanup_free_ char *tmp = xasprintf("%.*s.tmp%d.tar", (int)(strlen(tar) - 4), tar, (int)getpid());
	_cleanup_close_ int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct strv argv = {0};
	int rc, status = 0;

	if (log < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot write the log '%s': %s", log_path, strerror(errno));
		return rc;
	}
	strv_push(&argv, "mmdebstrap");
	strv_push(&argv, geteuid() == 0 ? "--mode=root" : "--mode=unshare");
	strv_push(&argv, "--variant=apt");
	strv_push(&argv, "--format=tar");
	strv_push_take(&argv, xasprintf("--architectures=%s", r->arch));
	strv_push_take(&argv, xasprintf("--components=%s", comps));
	strv_push_take(&argv, xasprintf("--include=%s", include));
	strv_push(&argv, "--aptopt=Acquire::Retries \"3\"");
	if (!r->check_valid_until)
		strv_push(&argv, "--aptopt=Acquire::Check-Valid-Until \"false\"");
	strv_push(&argv, "--skip=essential/unlink");
	strv_push(&argv, "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/");
	strv_push_take(&argv, xasprintf("--setup-hook=sync-in '%s' /var/cache/apt/archives/", aptdir));
	strv_push_take(&argv, xasprintf("--customize-hook=sync-out /var/cache/apt/archives '%s'", aptdir));
	/* Pinned versions (a rebuild from a manifest): apt preferences for the
	 * build only, so that the essential set mmdebstrap picks itself is
	 * pinned too; the image does not keep them. */
	if (prefs) {
		strv_push(&argv, "--setup-hook=mkdir -p \"$1\"/etc/apt/preferences.d");
		strv_push_take(&argv, xasprintf("--setup-hook=upload '%s' /etc/apt/preferences.d/" PINS_FILE, prefs));
		strv_push(&argv, "--customize-hook=rm -f \"$1\"/etc/apt/preferences.d/" PINS_FILE);
		/* A pinned version the mirror lacks stops apt only after the
		 * essential set is installed; ask apt at once instead. */
		_cleanup_free_ char *spaced = join(pkgs, " ");
		strv_push_take(&argv, xasprintf("--extract-hook=APT_CONFIG=\"$MMDEBSTRAP_APT_CONFIG\" "
						"apt-get --simulate --quiet install %s >/dev/null", spaced));
	}
	/* The recipe's setup files are in place before dpkg runs; where a
	 * package ships one as a conffile, ours is kept (without a prompt). */
	for (size_t i = 0; i < r->setup_paths.n; i++) {
		_cleanup_free_ char *parent = xstrdup(r->setup_paths.v[i]);
		char *slash = strrchr(parent, '/');
		if (slash) {
			*slash = '\0';
			strv_push_take(&argv, xasprintf("--setup-hook=mkdir -p \"$1\"/'%s'", parent));
		}
		strv_push_take(&argv, xasprintf("--setup-hook=upload '%s' '/%s'", r->setup_sources.v[i],
						r->setup_paths.v[i]));
	}
	if (r->setup_paths.n) {
		strv_push(&argv, "--dpkgopt=force-confdef");
		strv_push(&argv, "--dpkgopt=force-confold");
	}
	/* Extra sources are trusted through their pinned keys, next to
	 * Debian's own keyring, for the build only. */
	if (dl->n_keys)
		strv_push(&argv, "--keyring=/usr/share/keyrings/debian-archive-keyring.gpg");
	for (size_t i = 0; i < dl->n_keys; i++)
		strv_push_take(&argv, xasprintf("--keyring=%s", dl->keys[i].path));
	strv_push(&argv, r->suite);
	strv_push(&argv, tmp);
	strv_push(&argv, r->mirror);
	for (size_t i = 0; i < dl->n_keys; i++)
		strv_push_take(&argv, rootfs_source_line(r, dl->keys[i].source, NULL));

	mk_log_debug("rootfs: running mmdebstrap, log in '%s'", log_path);
	mk_temp_register(tmp);
	rc = mk_run(argv.v, mk_verbosity >= 2 ? -1 : log, &status);
	strv_release(&argv);
	if (rc == 0 && rename(tmp, tar) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
	} else if (rc < 0) {
		if (mk_interrupted)
			rc = -MK_ERR_INTERRUPTED;
		snprintf(err, errlen, "mmdebstrap failed (exit %d); its log is '%s'", status, log_path);
	}
	if (rc < 0)
		unlink(tmp);
	mk_temp_forget(tmp);
	return rc;
}

/* The versions of PINS ("name=version") for NAME, or NULL. */
static const char *pinned_version(const struct strv *pins, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < pins->n; i++)
		if (!strncmp(pins->v[i], name, n) && pins->v[i][n] == '=')
			return pins->v[i] + n + 1;
	return NULL;
}

/* apt's words for a pinned version the mirror does not have, in the log:
 * "E: Version '1.2-3' for 'foo' was not found". */
static int missing_versions(const char *log_path, const char *mirror, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	if (mk_read_file(log_path, &text, NULL) < 0)
		return 0;
	char *list = NULL;
	size_t len = 0, n = 0;
	FILE *f = open_memstream(&list, &len);
	for (char *l = strstr(text, "E: Version '"); l; l = strstr(l + 1, "E: Version '")) {
		char version[256], name[256];
		if (sscanf(l, "E: Version '%255[^']' for '%255[^']' was not found", version, name) == 2 &&
		    n++ < 10)
			fprintf(f, "%s%s %s", n > 1 ? ", " : "", name, version);
	}
	fclose(f);
	if (n)
		snprintf(err, errlen, "the mirror '%s' does not have %s%s, which the manifest pins", mirror,
			 list, n > 10 ? " (and more)" : "");
	free(list);
	return n ? -MK_ERR_CHECKSUM : 0;
}

/* make_tarball, with the recipe's packages asked for at their pinned
 * versions (so that a missing one stops apt at once) and every package of
 * the manifest pinned in apt preferences. */
static int pinned_tarball(const struct recipe *r, const struct artifacts *dl, const struct strv *pkgs,
			  const char *cache_dir, const char *aptdir, const char *tar,
			  const char *log_path, char *err, size_t errlen)
{
	if (!r->pins.n)
		return make_tarball(r, dl, pkgs, aptdir, NULL, tar, log_path, err, errlen);
	struct strv include = {0};
	for (size_t i = 0; i < pkgs->n; i++) {
		const char *v = pinned_version(&r->pins, pkgs->v[i]);
		strv_push_take(&include, v ? xasprintf("%s=%s", pkgs->v[i], v) : xstrdup(pkgs->v[i]));
	}
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	for (size_t i = 0; i < r->pins.n; i++) {
		const char *eq = strchr(r->pins.v[i], '=');
		fprintf(f, "Package: %.*s\nPin: version %s\nPin-Priority: 1001\n\n",
			(int)(eq - r->pins.v[i]), r->pins.v[i], eq + 1);
	}
	fclose(f);
	_cleanup_free_ char *prefs = xasprintf("%s/rootfs/.pins-%d.pref", cache_dir, (int)getpid());
	mk_temp_register(prefs);
	int rc = mk_write_file_atomic(prefs, text, len, 0644);
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "cannot write '%s': %s", prefs, strerror(-rc));
	else if ((rc = make_tarball(r, dl, &include, aptdir, prefs, tar, log_path, err, errlen)) < 0 &&
		 !mk_interrupted) {
		int m = missing_versions(log_path, r->mirror, err, errlen);
		if (m < 0)
			rc = m;
	}
	unlink(prefs);
	mk_temp_forget(prefs);
	strv_release(&include);
	return rc;
}

int rootfs_build(const struct recipe *r, const struct artifacts *dl, const char *cache_dir,
		 const char *log_path, struct rootfs_result *res, char *err, size_t errlen)
{
	_cleanup_free_ char *mmver = mmdebstrap_version();
	struct strv pkgs = {0};
	char perr[256];
	int rc;

	if (!mmver) {
		snprintf(err, errlen, "mmdebstrap is not installed; run 'make deps' as root, or "
				      "'apt-get install mmdebstrap'");
		return -ENOENT;
	}
	recipe_all_packages(r, &pkgs);
	_cleanup_free_ char *key = cache_key(r, dl, mmver, &pkgs);
	_cleanup_free_ char *dir = xasprintf("%s/rootfs", cache_dir);
	_cleanup_free_ char *tar = xasprintf("%s/%s-%s-%.16s.tar", dir, r->arch, r->suite, key);
	_cleanup_free_ char *aptdir = xasprintf("%s/apt/%s", cache_dir, r->arch);
	_cleanup_free_ char *probe = xasprintf("%s/dists/%s/Release", r->mirror, r->suite);

	if (mk_path_exists(tar)) {
		utimensat(AT_FDCWD, tar, NULL, 0); /* most recently used */
		res->cached = true;
		rc = 0;
	} else if ((rc = mk_mkdir_p(dir, 0755)) < 0 || (rc = mk_mkdir_p(aptdir, 0755)) < 0) {
		snprintf(err, errlen, "cannot create cache directories under '%s': %s", cache_dir,
			 strerror(-rc));
	} else if ((rc = rootfs_check_emulation(r->arch, err, errlen)) < 0) {
		/* err says how to fix it */
	} else if ((rc = fetch_probe(probe, perr, sizeof(perr))) < 0) {
		/* Fail fast: an unreachable mirror stops us before mmdebstrap starts. */
		snprintf(err, errlen,
			 "cannot reach the Debian mirror '%s' (%s: %s); give a reachable one with "
			 "--mirror URL",
			 r->mirror, probe, perr);
	} else if ((rc = pinned_tarball(r, dl, &pkgs, cache_dir, aptdir, tar, log_path, err, errlen)) == 0) {
		res->cached = false;
		_cleanup_free_ char *prefix = xasprintf("%s-%s-", r->arch, r->suite);
		/* The newest few of each architecture and suite, so the cache does
		 * not grow without end and one target's builds do not push out
		 * another's slow tarball. */
		mk_prune_newest(dir, prefix, ".tar", ROOTFS_KEEP);
	}
	strv_release(&pkgs);
	if (rc < 0)
		return rc;
	res->tar_path = TAKE_PTR(tar);
	res->key = TAKE_PTR(key);
	return 0;
}
