/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh verify DIR: checks a release directory as someone who downloaded
 * it would: the signature over SHA256SUMS (by the minisign program), every
 * line of SHA256SUMS, and that each manifest and SBOM names its own image
 * with the image's real hash and size. Every difference is reported, each
 * on one line naming the file; the exit code is 1 if there was any.
 *
 * The directory comes from outside, so every file of it is read as
 * untrusted: regular files only (a FIFO or a device would hang the read or
 * never end), sizes bounded, and no symbolic link is followed. Links are
 * refused rather than resolved: a release as 'make release' writes it and
 * as any download gives it holds plain files, so a link is either a local
 * arrangement that 'cp -L' replaces or a way to make verify read a file
 * elsewhere; checking that a target stays inside the directory would be a
 * race between the check and the open for no gain. minisign is given the
 * very bytes that are parsed here (memory files), never the paths. */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>

#include "commands.h"
#include "imager.h"
#include "sbom.h"
#include "util.h"

#define DEFAULT_KEY "keys/mkmesh-release.pub"
/* The most read of each file, far above what a release has: SHA256SUMS,
 * its signature and the key are a few hundred bytes; manifests and SBOMs
 * list packages (well under 1 MiB for the full images). */
#define SMALL_MAX (1u << 20)
#define JSON_MAX (16u << 20)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh verify DIR [--key PUBKEY]\n"
		"\n"
		"Checks a release directory (what 'make release' publishes) before you use it:\n"
		"  1. SHA256SUMS.sig is a good minisign signature of SHA256SUMS by PUBKEY, the\n"
		"     release public key: then SHA256SUMS is what the maintainer signed;\n"
		"  2. every file listed in SHA256SUMS is there and has that sha256;\n"
		"  3. each *.manifest.json names its own image, with the image's sha256 and size;\n"
		"  4. each *.spdx.json (the SBOM) names the same image with the same sha256;\n"
		"  5. " IMAGER_JSON " (Raspberry Pi Imager's list), when there: each entry's image\n"
		"     is in the directory with its image_download_size (and _sha256), and the\n"
		"     image inside it (decompressed, as Imager checks it) has its extract_size\n"
		"     and extract_sha256; init_format is cloudinit.\n"
		"Each problem is printed on one line naming the file; the exit code is 0 when\n"
		"all checks pass and 1 otherwise. The files of DIR must be regular files, not\n"
		"symbolic links, FIFOs or devices; SHA256SUMS, SHA256SUMS.sig and PUBKEY may\n"
		"hold at most 1 MiB, each manifest and SBOM at most 16 MiB; an image in\n"
		IMAGER_JSON " is decompressed up to its extract_size, at most 64 GiB.\n"
		"\n"
		"options:\n"
		"  --key PUBKEY   the minisign public key (default: $MKMESH_RELEASE_KEY, else\n"
		"                 " DEFAULT_KEY " in the current directory or beside mkmesh)\n"
		"  -q, --quiet    print nothing when all checks pass\n"
		"\n"
		"The same checks by hand (needs minisign and sha256sum):\n"
		"  minisign -V -p " DEFAULT_KEY " -m DIR/SHA256SUMS -x DIR/SHA256SUMS.sig\n"
		"  cd DIR && sha256sum -c SHA256SUMS\n"
		"\n"
		"example:\n"
		"  mkmesh verify images/release-1.0.0\n");
}

struct verify {
	const char *dir;
	int dirfd;
	int failures;
	char *sums_text; /* SHA256SUMS as read, once: what minisign checks is what is parsed */
	size_t sums_len;
	int sums_rc;
	/* sha256 and size of each file hashed, so an image is read once */
	struct strv names;
	char (*sums)[65];
	uint64_t *sizes;
	struct strv listed; /* the names SHA256SUMS covers */
};

static void fail(struct verify *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct verify *v, const char *fmt, ...)
{
	va_list ap;
	fputs("mkmesh: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	v->failures++;
}

/* Why a file of the directory cannot be used, and what to do, from the
 * return of mk_read_regular or mk_open_regular (MAX: its bound). */
static const char *cause(int rc, size_t max, char *buf, size_t len)
{
	switch (rc) {
	case -MK_ERR_SYMLINK:
		return "it is a symbolic link, and verify follows none in a release directory; put the file "
		       "itself there (cp -L) if you trust what it points to";
	case -MK_ERR_NOT_REGULAR:
		return "it is not a regular file (a FIFO, a device or a directory); download it again";
	case -EFBIG:
		snprintf(buf, len, "it is larger than %zu MiB, the most verify reads of it, so not a file "
			 "'make release' wrote; download it again", max >> 20);
		return buf;
	case -ENOENT:
		return "it is missing; download it too";
	default:
		snprintf(buf, len, "%s", mk_strerror(rc));
		return buf;
	}
}

/* The sha256 of DIR/NAME (cached); -errno when it cannot be read. */
static int file_hash(struct verify *v, const char *name, const char **sha, uint64_t *size)
{
	for (size_t i = 0; i < v->names.n; i++)
		if (!strcmp(v->names.v[i], name)) {
			*sha = v->sums[i];
			*size = v->sizes[i];
			return 0;
		}
	char out[65];
	uint64_t n = 0;
	_cleanup_close_ int fd = mk_open_regular(v->dirfd, name, MK_NOFOLLOW, NULL);
	if (fd < 0)
		return fd;
	int rc = mk_sha256_fd(fd, out, &n);
	if (rc < 0)
		return rc;
	strv_push(&v->names, name);
	v->sums = xrealloc(v->sums, v->names.n * sizeof(*v->sums));
	v->sizes = xrealloc(v->sizes, v->names.n * sizeof(*v->sizes));
	memcpy(v->sums[v->names.n - 1], out, 65);
	v->sizes[v->names.n - 1] = n;
	*sha = v->sums[v->names.n - 1];
	*size = n;
	return 0;
}

/* A name in SHA256SUMS or a manifest must be a file of DIR itself. */
static bool plain_name(const char *name)
{
	return *name && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

static const char *find_key(const char *given, char *buf, size_t len)
{
	if (given)
		return given;
	const char *env = getenv("MKMESH_RELEASE_KEY");
	if (env && *env)
		return env;
	if (mk_path_exists(DEFAULT_KEY))
		return DEFAULT_KEY;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(buf, len, "%s/%s", exe, DEFAULT_KEY);
			if (mk_path_exists(buf))
				return buf;
		}
	}
	return DEFAULT_KEY;
}

/* What a program printed, on one line, for a one-line message. */
static void one_line(char *text, char *out, size_t len)
{
	size_t w = 0;
	out[0] = '\0';
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (!l[strspn(l, " \t\r")])
			continue;
		int n = snprintf(out + w, len - w, "%s%s", w ? " " : "", l);
		if (n < 0 || (size_t)n >= len - w)
			break;
		w += (size_t)n;
	}
	if (!w)
		snprintf(out, len, "no output");
}

/* A memory file holding DATA, left open across exec so that minisign
 * reads it as /proc/self/fd/N; -errno when it cannot be made. */
static int memfd_with(const char *name, const char *data, size_t len)
{
	int fd = memfd_create(name, 0);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int r = w < 0 ? -errno : -EIO;
			close(fd);
			return r;
		}
		data += w;
		len -= (size_t)w;
	}
	return fd;
}

/* TEXT with every FROM replaced by TO. Caller frees. */
static char *replace_all(const char *text, const char *from, const char *to)
{
	char *out = NULL;
	size_t olen = 0, fl = strlen(from);
	FILE *f = open_memstream(&out, &olen);
	if (!f)
		abort();
	for (const char *p; (p = strstr(text, from)); text = p + fl)
		fprintf(f, "%.*s%s", (int)(p - text), text, to);
	fputs(text, f);
	fclose(f);
	return out;
}

static void check_signature(struct verify *v, const char *key)
{
	_cleanup_free_ char *sums = xasprintf("%s/SHA256SUMS", v->dir);
	_cleanup_free_ char *sig = xasprintf("%s/SHA256SUMS.sig", v->dir);
	_cleanup_free_ char *keytext = NULL, *sigtext = NULL;
	size_t keylen = 0, siglen = 0;
	char why[256];
	int rc;

	if ((rc = mk_read_regular(v->dirfd, "SHA256SUMS.sig", MK_NOFOLLOW, SMALL_MAX, &sigtext, &siglen)) < 0) {
		if (rc == -ENOENT)
			fail(v, "%s: missing: the release is not signed, or the signature was not downloaded", sig);
		else
			fail(v, "%s: cannot be read: %s", sig, cause(rc, SMALL_MAX, why, sizeof(why)));
		return;
	}
	/* The key is named by the user: a link to it is fine, anything but a
	 * small regular file is not. */
	if ((rc = mk_read_regular(AT_FDCWD, key, 0, SMALL_MAX, &keytext, &keylen)) < 0) {
		fail(v, "%s: cannot read the release public key: %s; give it with --key PUBKEY", key,
		     rc == -EFBIG ? "it is larger than 1 MiB, so not a minisign public key"
				  : mk_strerror(rc));
		return;
	}
	if (strstr(keytext, "PLACEHOLDER")) {
		fail(v, "%s: is a placeholder, not the release key; give the maintainer's public key "
			"with --key PUBKEY", key);
		return;
	}
	if (v->sums_rc < 0)
		return; /* check_sums says why; there is nothing to check the signature of */
	/* minisign reads the bytes read here, from memory files; its words go
	 * into another, then into one line of ours with the real names. */
	_cleanup_close_ int out = memfd_create("minisign", MFD_CLOEXEC);
	_cleanup_close_ int msum = memfd_with("SHA256SUMS", v->sums_text, v->sums_len);
	_cleanup_close_ int msig = memfd_with("SHA256SUMS.sig", sigtext, siglen);
	_cleanup_close_ int mkey = memfd_with("key", keytext, keylen);
	if (out < 0 || msum < 0 || msig < 0 || mkey < 0) {
		fail(v, "%s: cannot be checked: no memory file for minisign: %s", sig,
		     strerror(out < 0 ? errno : -(msum < 0 ? msum : msig < 0 ? msig : mkey)));
		return;
	}
	char psum[32], psig[32], pkey[32];
	snprintf(psum, sizeof(psum), "/proc/self/fd/%d", msum);
	snprintf(psig, sizeof(psig), "/proc/self/fd/%d", msig);
	snprintf(pkey, sizeof(pkey), "/proc/self/fd/%d", mkey);
	char *argv[] = {(char *)"minisign", (char *)"-V", (char *)"-q", (char *)"-p", pkey,
			(char *)"-m", psum, (char *)"-x", psig, NULL};
	int status = 0;
	rc = mk_run(argv, out, &status);
	if (rc == 0)
		return;
	if (status == 127) {
		fail(v, "%s: cannot be checked: minisign is not installed ('apt-get install minisign')", sig);
		return;
	}
	_cleanup_free_ char *said = NULL;
	char line[512], none[1] = "";
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", out);
	mk_read_regular(AT_FDCWD, proc, 0, SMALL_MAX, &said, NULL);
	_cleanup_free_ char *s1 = replace_all(said ? said : none, psum, sums);
	_cleanup_free_ char *s2 = replace_all(s1, psig, sig);
	_cleanup_free_ char *s3 = replace_all(s2, pkey, key);
	one_line(s3, line, sizeof(line));
	fail(v, "%s: not a good signature of SHA256SUMS by the key '%s' (minisign: %s)", sig, key, line);
}

static void check_sums(struct verify *v)
{
	_cleanup_free_ char *path = xasprintf("%s/SHA256SUMS", v->dir);
	size_t lineno = 0;
	char why[256];
	if (v->sums_rc < 0) {
		if (v->sums_rc == -ENOENT)
			fail(v, "%s: missing", path);
		else
			fail(v, "%s: cannot be read: %s", path, cause(v->sums_rc, SMALL_MAX, why, sizeof(why)));
		return;
	}
	const char *nul = memchr(v->sums_text, '\0', v->sums_len);
	if (nul) {
		fail(v, "%s: is not text (a NUL byte at offset %zu); download it again", path,
		     (size_t)(nul - v->sums_text));
		return;
	}
	_cleanup_free_ char *text = xstrdup(v->sums_text);
	for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		/* "HEX  NAME" (text mode) or "HEX *NAME" (binary mode), as sha256sum writes */
		size_t hex = strspn(l, "0123456789abcdef");
		if (hex != 64 || l[64] != ' ' || (l[65] != ' ' && l[65] != '*') || !plain_name(l + 66)) {
			fail(v, "%s:%zu: not 'SHA256  NAME' with NAME a file of the directory", path, lineno);
			continue;
		}
		const char *name = l + 66, *sha;
		uint64_t size;
		l[64] = '\0';
		strv_push(&v->listed, name);
		int rc = file_hash(v, name, &sha, &size);
		if (rc < 0)
			fail(v, "%s/%s: listed in SHA256SUMS but cannot be read: %s", v->dir, name,
			     cause(rc, 0, why, sizeof(why)));
		else if (strcmp(sha, l) != 0)
			fail(v, "%s/%s: sha256 is %s, SHA256SUMS says %s", v->dir, name, sha, l);
	}
	if (lineno == 0)
		fail(v, "%s: lists no files", path);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of the directory ending in SUFFIX, sorted. */
static void list_suffix(int dirfd, const char *suffix, struct strv *out)
{
	int fd = dup(dirfd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	size_t sl = strlen(suffix);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t l = strlen(de->d_name);
		if (l > sl && !strcmp(de->d_name + l - sl, suffix))
			strv_push(out, de->d_name);
	}
	closedir(d);
	if (out->n)
		qsort(out->v, out->n, sizeof(char *), cmp_strp);
}

static void require_listed(struct verify *v, const char *name)
{
	if (!strv_contains(&v->listed, name))
		fail(v, "%s/%s: not in SHA256SUMS, so the signature does not cover it", v->dir, name);
}

/* NAME, a JSON file of the directory, read as untrusted (at most JSON_MAX
 * bytes, no link); NULL with *RC (-EINVAL and JE when it is not JSON). */
static json_t *read_json(struct verify *v, const char *name, int *rc, json_error_t *je)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if ((*rc = mk_read_regular(v->dirfd, name, MK_NOFOLLOW, JSON_MAX, &text, &len)) < 0)
		return NULL;
	json_t *doc = json_loadb(text, len, 0, je);
	if (!doc)
		*rc = -EINVAL;
	return doc;
}

/* NAME, a JSON file of the directory that SHA256SUMS must list: NULL, and
 * a failure noted, when it cannot be read or is not JSON. *PATH is the
 * caller's to free. */
static json_t *load_listed(struct verify *v, const char *name, char **path)
{
	json_error_t je;
	char why[256];
	int rc;
	*path = xasprintf("%s/%s", v->dir, name);
	json_t *doc = read_json(v, name, &rc, &je);
	require_listed(v, name);
	if (!doc && rc == -EINVAL)
		fail(v, "%s:%d: not JSON: %s", *path, je.line, je.text);
	else if (!doc)
		fail(v, "%s: cannot be read: %s", *path, cause(rc, JSON_MAX, why, sizeof(why)));
	return doc;
}

/* MANIFEST's image: its own (same stem), there, with that sha256 and size. */
static void check_manifest(struct verify *v, const char *name)
{
	_cleanup_free_ char *path = NULL;
	json_t *m = load_listed(v, name, &path);
	if (!m)
		return;
	const json_t *image = json_object_get(m, "image");
	const char *file = json_string_value(json_object_get(image, "file"));
	const char *want = json_string_value(json_object_get(image, "sha256"));
	json_t *jsize = json_object_get(image, "size");
	size_t stem = strlen(name) - strlen(".manifest.json");
	const char *sha;
	uint64_t size;
	char why[256];
	int rc = 0;
	if (!file || !want || !json_is_integer(jsize)) {
		fail(v, "%s: has no image.file, image.sha256 and image.size", path);
	} else if (!plain_name(file)) {
		fail(v, "%s: image.file '%s' is not a file of the directory", path, file);
	} else if (strncmp(file, name, stem) != 0 || file[stem] != '.') {
		fail(v, "%s: names the image '%s', not its own ('%.*s.*')", path, file, (int)stem, name);
	} else if ((rc = file_hash(v, file, &sha, &size)) < 0) {
		fail(v, "%s: its image '%s' cannot be read: %s", path, file, cause(rc, 0, why, sizeof(why)));
	} else {
		if (strcmp(sha, want) != 0)
			fail(v, "%s: image.sha256 is %s, the file '%s' has %s", path, want, file, sha);
		if ((json_int_t)size != json_integer_value(jsize))
			fail(v, "%s: image.size is %lld, the file '%s' has %llu bytes", path,
			     (long long)json_integer_value(jsize), file, (unsigned long long)size);
		require_listed(v, file);
	}
	json_decref(m);
}

/* The package the document DESCRIBES, and its file name and sha256. */
static const json_t *described(const json_t *doc)
{
	const json_t *rels = json_object_get(doc, "relationships"), *pkgs = json_object_get(doc, "packages");
	const char *id = NULL;
	for (size_t i = 0; i < json_array_size(rels) && !id; i++) {
		const json_t *r = json_array_get(rels, i);
		const char *from = json_string_value(json_object_get(r, "spdxElementId")),
			   *type = json_string_value(json_object_get(r, "relationshipType"));
		if (from && type && !strcmp(from, "SPDXRef-DOCUMENT") && !strcmp(type, "DESCRIBES"))
			id = json_string_value(json_object_get(r, "relatedSpdxElement"));
	}
	for (size_t i = 0; id && i < json_array_size(pkgs); i++) {
		const char *pid = json_string_value(json_object_get(json_array_get(pkgs, i), "SPDXID"));
		if (pid && !strcmp(pid, id))
			return json_array_get(pkgs, i);
	}
	return NULL;
}

static void check_sbom(struct verify *v, const char *name)
{
	_cleanup_free_ char *path = NULL;
	json_t *doc = load_listed(v, name, &path);
	if (!doc)
		return;
	const json_t *top = described(doc);
	const char *file = json_string_value(json_object_get(top, "packageFileName")), *want = NULL;
	const json_t *sums = json_object_get(top, "checksums");
	for (size_t i = 0; i < json_array_size(sums); i++) {
		const char *alg = json_string_value(json_object_get(json_array_get(sums, i), "algorithm"));
		if (alg && !strcmp(alg, "SHA256"))
			want = json_string_value(json_object_get(json_array_get(sums, i), "checksumValue"));
	}
	size_t stem = strlen(name) - strlen(".spdx.json");
	const char *sha;
	uint64_t size;
	char why[256];
	int rc = 0;
	if (!top || !file || !want) {
		fail(v, "%s: describes no package with a packageFileName and a SHA256 checksum", path);
	} else if (!plain_name(file) || strncmp(file, name, stem) != 0 || file[stem] != '.') {
		fail(v, "%s: describes the image '%s', not its own ('%.*s.*')", path, file, (int)stem, name);
	} else if ((rc = file_hash(v, file, &sha, &size)) < 0) {
		fail(v, "%s: its image '%s' cannot be read: %s", path, file, cause(rc, 0, why, sizeof(why)));
	} else if (strcmp(sha, want) != 0) {
		fail(v, "%s: the image's SHA256 is %s, the file '%s' has %s", path, want, file, sha);
	} else {
		/* and the manifest beside it says the same */
		_cleanup_free_ char *mname = xasprintf("%.*s.manifest.json", (int)stem, name);
		_cleanup_free_ char *mpath = xasprintf("%s/%s", v->dir, mname);
		json_error_t je;
		json_t *m = read_json(v, mname, &rc, &je);
		const char *msha = json_string_value(json_object_get(json_object_get(m, "image"), "sha256"));
		if (!m && rc == -ENOENT)
			fail(v, "%s: no manifest '%s' beside it", path, mpath);
		else if (!m)
			fail(v, "%s: its manifest '%s' cannot be read: %s", path, mpath,
			     rc == -EINVAL ? je.text : cause(rc, JSON_MAX, why, sizeof(why)));
		else if (!msha || strcmp(msha, want) != 0)
			fail(v, "%s: the image's SHA256 is %s, its manifest says %s", path, want,
			     msha ? msha : "nothing");
		json_decref(m);
	}
	json_decref(doc);
}

#define EXTRACT_MAX (64ULL << 30)

static bool is_sha256(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* One entry of rpi-imager.json's os_list against the file its url names. */
static void check_imager_entry(struct verify *v, const char *path, size_t i, const json_t *e)
{
	const char *url = json_string_value(json_object_get(e, "url"));
	const char *esha = json_string_value(json_object_get(e, "extract_sha256"));
	const char *dsha = json_string_value(json_object_get(e, "image_download_sha256"));
	const char *date = json_string_value(json_object_get(e, "release_date"));
	const char *init = json_string_value(json_object_get(e, "init_format"));
	const json_t *esize = json_object_get(e, "extract_size"), *dsize = json_object_get(e, "image_download_size");
	const json_t *devices = json_object_get(e, "devices");
	static const char *const text[] = {"name", "description", "icon", "url"};
	char why[256];
	bool ok = true;
	for (size_t k = 0; k < ELEMENTSOF(text); k++) {
		const char *t = json_string_value(json_object_get(e, text[k]));
		if (!t || !*t) {
			fail(v, "%s: os_list[%zu].%s: missing or not a string, which Imager needs", path, i, text[k]);
			ok = false;
		}
	}
	if (!json_is_integer(esize) || json_integer_value(esize) <= 0 || !json_is_integer(dsize) ||
	    json_integer_value(dsize) <= 0) {
		fail(v, "%s: os_list[%zu]: extract_size and image_download_size must be positive integers",
		     path, i);
		ok = false;
	}
	if (!is_sha256(esha) || (json_object_get(e, "image_download_sha256") && !is_sha256(dsha))) {
		fail(v, "%s: os_list[%zu]: extract_sha256 (and image_download_sha256) must be 64 lower-case "
		     "hex digits", path, i);
		ok = false;
	}
	if (!date || !imager_date_valid(date))
		fail(v, "%s: os_list[%zu].release_date: not a date YYYY-MM-DD", path, i);
	if (!init || strcmp(init, "cloudinit"))
		fail(v, "%s: os_list[%zu].init_format is '%s', not 'cloudinit': Imager would not write the "
		     "cloud-init seed the image reads", path, i, init ? init : "(none)");
	bool devs = json_is_array(devices) && json_array_size(devices) > 0;
	for (size_t k = 0; devs && k < json_array_size(devices); k++)
		devs = json_is_string(json_array_get(devices, k));
	if (!devs)
		fail(v, "%s: os_list[%zu].devices: not a list of Imager's device tags (pi4-64bit, ...)", path, i);
	if (!ok)
		return;

	const char *slash = strrchr(url, '/'), *file = slash ? slash + 1 : url;
	size_t fl = strlen(file);
	const char *sha;
	uint64_t size;
	int rc;
	if (!plain_name(file) || fl <= 8 || strcmp(file + fl - 8, ".img.zst")) {
		fail(v, "%s: os_list[%zu].url '%s' does not end in an image file of the directory (NAME.img.zst)",
		     path, i, url);
		return;
	}
	if ((rc = file_hash(v, file, &sha, &size)) < 0) {
		fail(v, "%s: os_list[%zu]: its image '%s' cannot be read: %s", path, i, file,
		     cause(rc, 0, why, sizeof(why)));
		return;
	}
	require_listed(v, file);
	if ((json_int_t)size != json_integer_value(dsize))
		fail(v, "%s: os_list[%zu].image_download_size is %lld, '%s' has %llu bytes", path, i,
		     (long long)json_integer_value(dsize), file, (unsigned long long)size);
	if (dsha && strcmp(dsha, sha))
		fail(v, "%s: os_list[%zu].image_download_sha256 is %s, '%s' has %s", path, i, dsha, file, sha);

	/* The manifest beside the image knows the disk's size too. */
	_cleanup_free_ char *mname = xasprintf("%.*s.manifest.json", (int)(fl - 8), file);
	json_error_t je;
	json_t *m = read_json(v, mname, &rc, &je);
	json_t *disk = json_object_get(json_object_get(m, "image"), "disk_size");
	if (json_is_integer(disk) && json_integer_value(disk) != json_integer_value(esize))
		fail(v, "%s: os_list[%zu].extract_size is %lld, the manifest '%s' says the disk is %lld bytes",
		     path, i, (long long)json_integer_value(esize), mname, (long long)json_integer_value(disk));
	json_decref(m);

	uint64_t max = (uint64_t)json_integer_value(esize), got = 0;
	char xsha[65];
	_cleanup_close_ int fd = mk_open_regular(v->dirfd, file, MK_NOFOLLOW, NULL);
	if (fd < 0) {
		fail(v, "%s: os_list[%zu]: '%s' cannot be read: %s", path, i, file, cause(fd, 0, why, sizeof(why)));
		return;
	}
	if (max > EXTRACT_MAX)
		max = EXTRACT_MAX;
	rc = imager_zstd_digest(fd, max, xsha, &got);
	if (rc == -EFBIG)
		fail(v, "%s: os_list[%zu]: the image in '%s' is larger than extract_size (%lld bytes); Imager "
		     "would refuse the card", path, i, file, (long long)json_integer_value(esize));
	else if (rc == -EPIPE || rc == -MK_ERR_CHECKSUM)
		fail(v, "%s: '%s' is %s; download it again", path, file,
		     rc == -EPIPE ? "cut short" : "not a good zstd file");
	else if (rc < 0)
		fail(v, "%s: '%s' cannot be read: %s", path, file, mk_strerror(rc));
	else if (got != (uint64_t)json_integer_value(esize))
		fail(v, "%s: os_list[%zu].extract_size is %lld, the image in '%s' has %llu bytes", path, i,
		     (long long)json_integer_value(esize), file, (unsigned long long)got);
	else if (strcmp(xsha, esha))
		fail(v, "%s: os_list[%zu].extract_sha256 is %s, the image in '%s' has %s; Imager would refuse "
		     "the card", path, i, esha, file, xsha);
}

/* rpi-imager.json, when the release has one (releases before it do not). */
static bool check_imager(struct verify *v)
{
	if (faccessat(v->dirfd, IMAGER_JSON, F_OK, AT_SYMLINK_NOFOLLOW) != 0 &&
	    !strv_contains(&v->listed, IMAGER_JSON))
		return false;
	_cleanup_free_ char *path = NULL;
	json_t *doc = load_listed(v, IMAGER_JSON, &path);
	if (!doc)
		return true;
	const json_t *list = json_object_get(doc, "os_list");
	if (!json_is_array(list) || !json_array_size(list))
		fail(v, "%s: has no os_list (Raspberry Pi Imager's list of images)", path);
	for (size_t i = 0; i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i);
		if (!json_is_object(e))
			fail(v, "%s: os_list[%zu]: not an object", path, i);
		else
			check_imager_entry(v, path, i, e);
	}
	json_decref(doc);
	return true;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {{"key", required_argument, NULL, 'k'},
					     {"quiet", no_argument, NULL, 'q'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};
	const char *key_opt = NULL;
	bool quiet = false;
	int c;

	while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_opt = optarg; break;
		case 'q': quiet = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	struct verify v = {.dir = argv[optind]};
	v.dirfd = open(v.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (v.dirfd < 0) {
		mk_log_error("'%s' is not a directory (%s); give the directory the release files are in", v.dir,
			     strerror(errno));
		return 2;
	}
	char keybuf[PATH_MAX + 32];
	const char *key = find_key(key_opt, keybuf, sizeof(keybuf));

	v.sums_rc = mk_read_regular(v.dirfd, "SHA256SUMS", MK_NOFOLLOW, SMALL_MAX, &v.sums_text, &v.sums_len);
	check_signature(&v, key);
	check_sums(&v);
	struct strv manifests = {0}, sboms = {0};
	list_suffix(v.dirfd, ".manifest.json", &manifests);
	list_suffix(v.dirfd, ".spdx.json", &sboms);
	if (!manifests.n)
		fail(&v, "%s: has no *.manifest.json; is it a release directory?", v.dir);
	for (size_t i = 0; i < manifests.n; i++)
		check_manifest(&v, manifests.v[i]);
	for (size_t i = 0; i < sboms.n; i++)
		check_sbom(&v, sboms.v[i]);
	bool imager = check_imager(&v);

	if (v.failures == 0 && !quiet)
		printf("%s: good: SHA256SUMS signed by '%s'; %zu files match it; %zu manifests and %zu SBOMs "
		       "name their images%s\n",
		       v.dir, key, v.listed.n, manifests.n, sboms.n,
		       imager ? "; " IMAGER_JSON " matches its image" : "");
	else if (v.failures)
		fprintf(stderr, "mkmesh: %s: %d check%s failed; do not use these files\n", v.dir, v.failures,
			v.failures == 1 ? "" : "s");
	int rc = v.failures ? 1 : 0;
	strv_release(&manifests);
	strv_release(&sboms);
	strv_release(&v.names);
	strv_release(&v.listed);
	free(v.sums);
	free(v.sizes);
	free(v.sums_text);
	close(v.dirfd);
	return rc;
}
