/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh verify DIR: checks a release directory as someone who downloaded
 * it would: the signature over SHA256SUMS (by the minisign program), every
 * line of SHA256SUMS, and that each manifest and SBOM names its own image
 * with the image's real hash and size. Every difference is reported, each
 * on one line naming the file; the exit code is 1 if there was any. */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "commands.h"
#include "sbom.h"
#include "util.h"

#define DEFAULT_KEY "keys/mkmesh-release.pub"

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
		"  4. each *.spdx.json (the SBOM) names the same image with the same sha256.\n"
		"Each problem is printed on one line naming the file; the exit code is 0 when\n"
		"all checks pass and 1 otherwise.\n"
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
	int failures;
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

/* The sha256 of DIR/NAME (cached); -errno when it cannot be read. */
static int file_hash(struct verify *v, const char *name, const char **sha, uint64_t *size)
{
	for (size_t i = 0; i < v->names.n; i++)
		if (!strcmp(v->names.v[i], name)) {
			*sha = v->sums[i];
			*size = v->sizes[i];
			return 0;
		}
	_cleanup_free_ char *path = xasprintf("%s/%s", v->dir, name);
	char out[65];
	uint64_t n = 0;
	int rc = mk_sha256_file(path, out, &n);
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

static void check_signature(struct verify *v, const char *key)
{
	_cleanup_free_ char *sums = xasprintf("%s/SHA256SUMS", v->dir);
	_cleanup_free_ char *sig = xasprintf("%s/SHA256SUMS.sig", v->dir);
	_cleanup_free_ char *keytext = NULL;

	if (!mk_path_exists(sig)) {
		fail(v, "%s: missing: the release is not signed, or the signature was not downloaded", sig);
		return;
	}
	if (mk_read_file(key, &keytext, NULL) < 0) {
		fail(v, "%s: cannot read the release public key; give it with --key PUBKEY", key);
		return;
	}
	if (strstr(keytext, "PLACEHOLDER")) {
		fail(v, "%s: is a placeholder, not the release key; give the maintainer's public key "
			"with --key PUBKEY", key);
		return;
	}
	/* minisign's words go into a memory file, then into one line of ours. */
	_cleanup_close_ int out = memfd_create("minisign", MFD_CLOEXEC);
	char *argv[] = {(char *)"minisign", (char *)"-V", (char *)"-q", (char *)"-p", (char *)key,
			(char *)"-m", sums, (char *)"-x", sig, NULL};
	int status = 0;
	int rc = out < 0 ? -errno : mk_run(argv, out, &status);
	if (rc == 0)
		return;
	if (status == 127) {
		fail(v, "%s: cannot be checked: minisign is not installed ('apt-get install minisign')", sig);
		return;
	}
	_cleanup_free_ char *said = NULL;
	_cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", out);
	char line[512], none[1] = "";
	if (out >= 0)
		mk_read_file(proc, &said, NULL);
	one_line(said ? said : none, line, sizeof(line));
	fail(v, "%s: not a good signature of SHA256SUMS by the key '%s' (minisign: %s)", sig, key, line);
}

static void check_sums(struct verify *v)
{
	_cleanup_free_ char *path = xasprintf("%s/SHA256SUMS", v->dir);
	_cleanup_free_ char *text = NULL;
	size_t lineno = 0;
	if (mk_read_file(path, &text, NULL) < 0) {
		fail(v, "%s: missing", path);
		return;
	}
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
			fail(v, "%s/%s: listed in SHA256SUMS but cannot be read: %s", v->dir, name, strerror(-rc));
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

/* The files of DIR ending in SUFFIX, sorted. */
static void list_suffix(const char *dir, const char *suffix, struct strv *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t sl = strlen(suffix);
	if (!d)
		return;
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

/* NAME, a JSON file of the directory that SHA256SUMS must list: NULL, and
 * a failure noted, when it is not JSON. *PATH is the caller's to free. */
static json_t *load_listed(struct verify *v, const char *name, char **path)
{
	json_error_t je;
	*path = xasprintf("%s/%s", v->dir, name);
	json_t *doc = json_load_file(*path, 0, &je);
	require_listed(v, name);
	if (!doc)
		fail(v, "%s:%d: not JSON: %s", *path, je.line, je.text);
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
	int rc = 0;
	if (!file || !want || !json_is_integer(jsize)) {
		fail(v, "%s: has no image.file, image.sha256 and image.size", path);
	} else if (!plain_name(file)) {
		fail(v, "%s: image.file '%s' is not a file of the directory", path, file);
	} else if (strncmp(file, name, stem) != 0 || file[stem] != '.') {
		fail(v, "%s: names the image '%s', not its own ('%.*s.*')", path, file, (int)stem, name);
	} else if ((rc = file_hash(v, file, &sha, &size)) < 0) {
		fail(v, "%s: its image '%s' cannot be read: %s", path, file, strerror(-rc));
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
	int rc = 0;
	if (!top || !file || !want) {
		fail(v, "%s: describes no package with a packageFileName and a SHA256 checksum", path);
	} else if (!plain_name(file) || strncmp(file, name, stem) != 0 || file[stem] != '.') {
		fail(v, "%s: describes the image '%s', not its own ('%.*s.*')", path, file, (int)stem, name);
	} else if ((rc = file_hash(v, file, &sha, &size)) < 0) {
		fail(v, "%s: its image '%s' cannot be read: %s", path, file, strerror(-rc));
	} else if (strcmp(sha, want) != 0) {
		fail(v, "%s: the image's SHA256 is %s, the file '%s' has %s", path, want, file, sha);
	} else {
		/* and the manifest beside it says the same */
		_cleanup_free_ char *mpath = xasprintf("%s/%.*s.manifest.json", v->dir, (int)stem, name);
		json_t *m = json_load_file(mpath, 0, NULL);
		const char *msha = json_string_value(json_object_get(json_object_get(m, "image"), "sha256"));
		if (!m)
			fail(v, "%s: no manifest '%s' beside it", path, mpath);
		else if (!msha || strcmp(msha, want) != 0)
			fail(v, "%s: the image's SHA256 is %s, its manifest says %s", path, want,
			     msha ? msha : "nothing");
		json_decref(m);
	}
	json_decref(doc);
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
	struct stat st;
	if (stat(v.dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		mk_log_error("'%s' is not a directory; give the directory the release files are in", v.dir);
		return 2;
	}
	char keybuf[PATH_MAX + 32];
	const char *key = find_key(key_opt, keybuf, sizeof(keybuf));

	check_signature(&v, key);
	check_sums(&v);
	struct strv manifests = {0}, sboms = {0};
	list_suffix(v.dir, ".manifest.json", &manifests);
	list_suffix(v.dir, ".spdx.json", &sboms);
	if (!manifests.n)
		fail(&v, "%s: has no *.manifest.json; is it a release directory?", v.dir);
	for (size_t i = 0; i < manifests.n; i++)
		check_manifest(&v, manifests.v[i]);
	for (size_t i = 0; i < sboms.n; i++)
		check_sbom(&v, sboms.v[i]);

	if (v.failures == 0 && !quiet)
		printf("%s: good: SHA256SUMS signed by '%s'; %zu files match it; %zu manifests and %zu SBOMs "
		       "name their images\n",
		       v.dir, key, v.listed.n, manifests.n, sboms.n);
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
	return rc;
}
