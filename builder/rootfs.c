/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "rootfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "diagnose.h"
#include "fetch.h"

/* Bump when the way we call mmdebstrap changes, so old caches are not used. */
#define ROOTFS_FORMAT "mkmesh-rootfs-3"
#define ROOTFS_KEEP 8 /* per arch and suite, newest first: the tests use several package sets */
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

/* Whether PROG would be found as execvp() looks for it. */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, ":");
		_cleanup_free_ char *f = xasprintf("%.*s/%s", (int)(n ? n : 1), n ? p : ".", prog);
		if (access(f, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
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
	/* mmdebstrap asks arch-test which architectures run here and stops
	 * after apt has started when it is missing (it is only a Recommends). */
	if (!in_path("arch-test")) {
		snprintf(err, errlen,
			 "a root file system for %s on this %s machine needs 'arch-test', which is not installed.\n"
			 "  fix it as root with:\n"
			 "    apt-get install arch-test\n"
			 "  (or 'make deps', which installs everything mkmesh needs)",
			 arch, rootfs_host_arch());
		return -ENOENT;
	}
	_cleanup_free_ char *entry = xasprintf("/proc/sys/fs/binfmt_misc/qemu-%s", qemu);
	_cleanup_free_ char *state = NULL;
	bool registered = mk_path_exists("/proc/sys/fs/binfmt_misc/status") &&
			  mk_read_file(entry, &state, NULL) >= 0 && strncmp(state, "enabled", 7) == 0;
	/* Registered is not enough: the handler's interpreter may be gone. */
	char *const probe[] = {"arch-test", (char *)arch, NULL};
	_cleanup_close_ int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!registered || mk_run(probe, devnull, NULL) < 0) {
		snprintf(err, errlen,
			 "%s binaries cannot run on this %s machine: qemu-%s is %s.\n"
			 "  fix it as root with:\n"
			 "    apt-get install qemu-user-static binfmt-support\n"
			 "    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc\n"
			 "    update-binfmts --enable qemu-%s",
			 arch, rootfs_host_arch(), qemu,
			 registered ? "registered in binfmt_misc but 'arch-test' cannot run a binary with it"
				    : "not registered in binfmt_misc",
			 qemu);
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

/* "NAME.tar" -> "NAME.packages.tsv": the provenance of a tarball's packages. */
static char *packages_path(const char *tar)
{
	return xasprintf("%.*s.packages.tsv", (int)(strlen(tar) - 4), tar);
}

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
	free(res->packages_path);
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

/* "1%3a2.38" -> "1:2.38": apt's file names quote the epoch's colon. */
static char *unquote(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *w = out;
	for (size_t i = 0; i < n; i++) {
		unsigned x;
		if (s[i] == '%' && i + 2 < n && sscanf(s + i + 1, "%2x", &x) == 1) {
			*w++ = (char)x;
			i += 2;
		} else {
			*w++ = s[i];
		}
	}
	*w = '\0';
	return out;
}

struct uri_line {
	char *key; /* name:arch=version, as asked */
	char *url, *sha256, *size;
};

/* One line of `apt-get download --print-uris`:
 * 'URL' NAME_VERSION_ARCH.deb SIZE SHA256:HEX */
static bool parse_uri_line(char *line, struct uri_line *u)
{
	char *url = line + 1, *end = line[0] == '\'' ? strchr(url, '\'') : NULL;
	if (!end)
		return false;
	*end = '\0';
	char *save = NULL, *file = strtok_r(end + 1, " ", &save), *size = strtok_r(NULL, " ", &save),
	     *sum = strtok_r(NULL, " ", &save);
	if (!file || !size || !sum || strncmp(sum, "SHA256:", 7) != 0)
		return false;
	char *u1 = strchr(file, '_'), *u2 = u1 ? strchr(u1 + 1, '_') : NULL;
	size_t flen = strlen(file);
	if (!u2 || flen < 4 || strcmp(file + flen - 4, ".deb") != 0)
		return false;
	_cleanup_free_ char *version = unquote(u1 + 1, (size_t)(u2 - u1 - 1));
	u->key = xasprintf("%.*s:%.*s=%s", (int)(u1 - file), file, (int)(flen - 4 - (size_t)(u2 + 1 - file)),
			   u2 + 1, version);
	u->url = xstrdup(url);
	u->size = xstrdup(size);
	u->sha256 = xstrdup(sum + 7);
	return true;
}

char *rootfs_packages_tsv(const char *dpkg, const char *uris)
{
	struct uri_line *u = NULL;
	size_t n_u = 0;
	_cleanup_free_ char *ucopy = xstrdup(uris ? uris : "");
	_cleanup_free_ char *dcopy = xstrdup(dpkg ? dpkg : "");
	char *save = NULL, *text = NULL;
	size_t len = 0;

	for (char *line = strtok_r(ucopy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct uri_line one;
		if (!parse_uri_line(line, &one))
			continue;
		u = xrealloc(u, (n_u + 1) * sizeof(*u));
		u[n_u++] = one;
	}
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	fputs("# name\tversion\tarch\tsource\tsha256\tsize\turl\n", f);
	save = NULL;
	for (char *line = strtok_r(dcopy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* db:Status-Abbrev, Package, Version, Architecture, source:Package */
		char *field[5], *p = line;
		size_t nf = 0;
		while (nf < ELEMENTSOF(field) && p) {
			field[nf++] = p;
			if ((p = strchr(p, '\t')))
				*p++ = '\0';
		}
		if (nf < 5 || strncmp(field[0], "ii", 2) != 0)
			continue;
		_cleanup_free_ char *key = xasprintf("%s:%s=%s", field[1], field[3], field[2]);
		const struct uri_line *hit = NULL;
		for (size_t i = 0; i < n_u && !hit; i++)
			if (!strcmp(u[i].key, key))
				hit = &u[i];
		fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", field[1], field[2], field[3],
			*field[4] ? field[4] : field[1], hit ? hit->sha256 : "", hit ? hit->size : "",
			hit ? hit->url : "");
	}
	fclose(f);
	for (size_t i = 0; i < n_u; i++) {
		free(u[i].key);
		free(u[i].url);
		free(u[i].sha256);
		free(u[i].size);
	}
	free(u);
	return text;
}

/* Joins what the hook wrote into TAR's .packages.tsv. */
static int write_packages(const char *dpkg_path, const char *uris_path, const char *tar, char *err,
			  size_t errlen)
{
	_cleanup_free_ char *dpkg = NULL, *uris = NULL;
	_cleanup_free_ char *dest = packages_path(tar);
	int rc = mk_read_file(dpkg_path, &dpkg, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "mmdebstrap's hook wrote no package list '%s': %s", dpkg_path,
			 strerror(-rc));
		return rc;
	}
	if (mk_read_file(uris_path, &uris, NULL) < 0)
		mk_log_warn("apt gave no download locations for the packages; the manifest will lack them");
	_cleanup_free_ char *tsv = rootfs_packages_tsv(dpkg, uris);
	if ((rc = mk_write_file_atomic(dest, tsv, strlen(tsv), 0644)) < 0)
		snprintf(err, errlen, "cannot write '%s': %s", dest, strerror(-rc));
	return rc;
}

void rootfs_packages_free(struct rootfs_package *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].version);
		free(p[i].arch);
		free(p[i].source);
		free(p[i].sha256);
		free(p[i].url);
	}
	free(p);
}

int rootfs_packages_load(const char *path, struct rootfs_package **out, size_t *n_out, char *err,
			 size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	struct rootfs_package *p = NULL;
	size_t n = 0, lineno = 0;
	char *save = NULL;
	int rc = mk_read_file(path, &text, NULL);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the package provenance '%s': %s", path, strerror(-rc));
		return rc;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *field[7], *q = line;
		size_t nf = 0;
		lineno++;
		if (line[0] == '#')
			continue;
		while (nf < ELEMENTSOF(field) && q) {
			field[nf++] = q;
			if ((q = strchr(q, '\t')))
				*q++ = '\0';
		}
		if (nf != ELEMENTSOF(field)) {
			snprintf(err, errlen, "%s:%zu: expected 7 fields separated by tabs", path, lineno);
			rootfs_packages_free(p, n);
			return -EINVAL;
		}
		p = xrealloc(p, (n + 1) * sizeof(*p));
		p[n++] = (struct rootfs_package){
			.name = xstrdup(field[0]), .version = xstrdup(field[1]), .arch = xstrdup(field[2]),
			.source = xstrdup(field[3]), .sha256 = *field[4] ? xstrdup(field[4]) : NULL,
			.size = strtoull(field[5], NULL, 10), .url = *field[6] ? xstrdup(field[6]) : NULL};
	}
	*out = p;
	*n_out = n;
	return 0;
}

#define MAX_APT_KEYS 16

/* apt checks a signature as its sandbox user, _apt, which may not enter the
 * cache (a directory of root's, 0700 say): the build's copy of a keyring is
 * a file of its own under /tmp, readable by all (it is a public key). */
static int readable_keyring(const char *key, char **out, char *err, size_t errlen)
{
	char tmpl[] = "/tmp/mkmesh-apt-key.XXXXXX.gpg";
	_cleanup_close_ int fd = mkstemps(tmpl, 4);
	if (fd < 0 || fchmod(fd, 0644) < 0) {
		int e = errno;
		if (fd >= 0)
			unlink(tmpl);
		snprintf(err, errlen, "cannot make a copy of the key '%s' in /tmp: %s", key, strerror(e));
		return -e;
	}
	mk_temp_register(tmpl);
	int r = mk_copy_sparse(key, tmpl);
	if (r < 0) {
		snprintf(err, errlen, "cannot copy the key '%s' to '%s': %s", key, tmpl, strerror(-r));
		mk_temp_forget(tmpl);
		unlink(tmpl);
		return r;
	}
	*out = xstrdup(tmpl);
	return 0;
}

static void forget_keyrings(char **keyring, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!keyring[i])
			continue;
		unlink(keyring[i]);
		mk_temp_forget(keyring[i]);
		free(keyring[i]);
		keyring[i] = NULL;
	}
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
	/* Where each package came from, asked of dpkg and apt before
	 * mmdebstrap's cleanup removes the lists. Host tools read the
	 * chroot's databases, so a foreign architecture costs no emulation.
	 * One package apt cannot place must not hide the others. */
	/* Values reach shell hooks through the environment, quoted where
	 * they are used, never pasted into the script. */
	setenv("MKMESH_ROOTFS_TMP", tmp, 1);
	strv_push(&argv,
		"--customize-hook=dpkg-query --admindir=\"$1\"/var/lib/dpkg -W "
		"-f='${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\n' "
		">\"$MKMESH_ROOTFS_TMP.dpkg\" && "
		"sed -n 's/^ii *\\t\\([^\\t]*\\)\\t\\([^\\t]*\\)\\t\\([^\\t]*\\)\\t.*/\\1:\\3=\\2/p' "
		"\"$MKMESH_ROOTFS_TMP.dpkg\" >\"$MKMESH_ROOTFS_TMP.want\" && export APT_CONFIG=\"$MMDEBSTRAP_APT_CONFIG\" && "
		"{ xargs -r apt-get download --print-uris <\"$MKMESH_ROOTFS_TMP.want\" >\"$MKMESH_ROOTFS_TMP.uris\" 2>/dev/null || "
		"while read -r p; do apt-get download --print-uris \"$p\" || true; done "
		"<\"$MKMESH_ROOTFS_TMP.want\" >\"$MKMESH_ROOTFS_TMP.uris\"; }");
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
		/* NAME=VERSION words (checked when the manifest was loaded),
		 * split on spaces with globbing off. */
		setenv("MKMESH_ROOTFS_PINS", spaced, 1);
		strv_push(&argv, "--extract-hook=set -f; APT_CONFIG=\"$MMDEBSTRAP_APT_CONFIG\" "
				 "apt-get --simulate --quiet install $MKMESH_ROOTFS_PINS >/dev/null");
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
	strv_push(&argv, r->suite);
	strv_push(&argv, tmp);
	strv_push(&argv, r->mirror);
	/* An extra source is trusted through its pinned key alone (signed-by:
	 * mmdebstrap's --keyring would replace Debian's), for the build only;
	 * the image's sources.list.d gets its own copy (cmd_build.c). */
	char *keyring[MAX_APT_KEYS] = {0};
	if (dl->n_keys > MAX_APT_KEYS) {
		snprintf(err, errlen, "%zu extra apt sources; at most %d", dl->n_keys, MAX_APT_KEYS);
		strv_release(&argv);
		return -E2BIG;
	}
	for (size_t i = 0; i < dl->n_keys; i++) {
		rc = readable_keyring(dl->keys[i].path, &keyring[i], err, errlen);
		if (rc < 0) {
			forget_keyrings(keyring, i);
			strv_release(&argv);
			return rc;
		}
		strv_push_take(&argv, rootfs_source_line(r, dl->keys[i].source, keyring[i]));
	}

	mk_log_debug("rootfs: running mmdebstrap, log in '%s'", log_path);
	static const char *const side[] = {"dpkg", "want", "uris"};
	char *side_path[ELEMENTSOF(side)];
	for (size_t i = 0; i < ELEMENTSOF(side); i++) {
		side_path[i] = xasprintf("%s.%s", tmp, side[i]);
		mk_temp_register(side_path[i]);
	}
	mk_temp_register(tmp);
	rc = mk_run(argv.v, mk_verbosity >= 2 ? -1 : log, &status);
	strv_release(&argv);
	forget_keyrings(keyring, dl->n_keys);
	unsetenv("MKMESH_ROOTFS_TMP");
	unsetenv("MKMESH_ROOTFS_PINS");
	if (rc < 0) {
		if (mk_interrupted)
			rc = -MK_ERR_INTERRUPTED;
		if (rc == -MK_ERR_INTERRUPTED) {
			snprintf(err, errlen, "mmdebstrap was interrupted; its log is '%s'", log_path);
		} else {
			/* The cache is the directory above CACHE/rootfs/X.tar. */
			_cleanup_free_ char *cache = xstrdup(tar);
			for (int i = 0; i < 2; i++)
				if (strrchr(cache, '/'))
					*strrchr(cache, '/') = '\0';
			struct diagnose_hints h = {.suite = r->suite, .mirror = r->mirror,
						   .cache_dir = cache, .disk_size = r->disk.size};
			diagnose_apt_failure("mmdebstrap", status, log_path, &h, err, errlen);
		}
	} else if ((rc = write_packages(side_path[0], side_path[2], tar, err, errlen)) < 0) {
		/* err says what; the provenance goes in first, so that a
		 * tarball in the cache always has it */
	} else if (rename(tmp, tar) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
	}
	for (size_t i = 0; i < ELEMENTSOF(side); i++) {
		unlink(side_path[i]);
		mk_temp_forget(side_path[i]);
		free(side_path[i]);
	}
	if (rc < 0)
		unlink(tmp);
	mk_temp_forget(tmp);
	return rc;
}

/* The provenance files whose tarball was pruned. */
static void prune_orphans(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	const char *suffix = ".packages.tsv";
	size_t sl = strlen(suffix);
	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0 || strstr(de->d_name, ".tmp"))
			continue;
		_cleanup_free_ char *tar = xasprintf("%s/%.*s.tar", dir, (int)(l - sl), de->d_name);
		if (!mk_path_exists(tar)) {
			_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
			unlink(p);
		}
	}
	closedir(d);
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
	long status = 0;
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

	_cleanup_free_ char *provenance = packages_path(tar);
	/* A tarball cached before the provenance was recorded is made again:
	 * its packages' origins cannot be found without the apt lists. */
	bool have = mk_path_exists(tar);
	if (have && !mk_path_exists(provenance))
		mk_log_info("  the cached root file system '%s' has no package provenance; making it again",
			    tar);
	if (have && mk_path_exists(provenance)) {
		utimensat(AT_FDCWD, tar, NULL, 0); /* most recently used */
		res->cached = true;
		rc = 0;
	} else if ((rc = mk_mkdir_p(dir, 0755)) < 0 || (rc = mk_mkdir_p(aptdir, 0755)) < 0) {
		snprintf(err, errlen, "cannot create cache directories under '%s': %s", cache_dir,
			 strerror(-rc));
	} else if ((rc = rootfs_check_emulation(r->arch, err, errlen)) < 0) {
		/* err says how to fix it */
	} else if ((rc = fetch_probe_release(probe, &status, perr, sizeof(perr))) < 0) {
		/* Fail fast: an unreachable mirror stops us before mmdebstrap starts. */
		if (status == 407)
			snprintf(err, errlen,
				 "cannot reach the Debian mirror '%s' (%s: %s)\n  fix: a proxy between this "
				 "machine and the mirror wants a login: give it as "
				 "http_proxy=http://USER:PASSWORD@PROXY:PORT/ in the environment, or give a "
				 "--mirror the proxy lets through",
				 r->mirror, probe, perr);
		else if (rc == -MK_ERR_HTTP && status < 400)
			snprintf(err, errlen,
				 "the Debian mirror '%s' is not answering as one (%s: %s)\n  fix: a captive "
				 "portal or a login page? open %s in a browser and log in to the network if it "
				 "asks, or give another --mirror URL",
				 r->mirror, probe, perr, probe);
		else
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
		prune_orphans(dir);
	}
	strv_release(&pkgs);
	if (rc < 0)
		return rc;
	res->tar_path = TAKE_PTR(tar);
	res->packages_path = TAKE_PTR(provenance);
	res->key = TAKE_PTR(key);
	return 0;
}
