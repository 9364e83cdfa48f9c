/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What the fuzz harnesses (tests/fuzz/<name>.c) share. Each harness is one
 * LLVMFuzzerTestOneInput() against the public functions of a module's
 * header; `make fuzz` links it with libFuzzer (clang), and `make test`
 * links it with tests/fuzz/replay.c, which feeds it the seed corpus and the
 * kept crash reproducers.
 *
 * A loader that takes a path gets the input written to a file in a private
 * directory on /dev/shm (made once, removed at exit, or by the next run of
 * the harness after a crash). A harness checks what
 * the loader promises with FUZZ_CHECK(), which aborts: libFuzzer and the
 * replay both count an abort as a crash.
 */
#ifndef MK_FUZZ_H
#define MK_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <locale.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

#define FUZZ_CHECK(cond, ...)                                                          \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(fuzz_stderr(), "fuzz: %s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                                      \
			fprintf(fuzz_stderr(), __VA_ARGS__);                           \
			fputc('\n', fuzz_stderr());                                    \
			abort();                                                       \
		}                                                                      \
	} while (0)

/* The real stderr, also while fuzz_quiet() hides the library's words. */
static inline FILE *fuzz_stderr(void)
{
	static FILE *real;
	if (!real)
		real = stderr;
	return real;
}

/* The source tree (recipes/, overlays/): $MKMESH_SRCDIR, else where the
 * harness was built from. */
static inline const char *fuzz_srcdir(void)
{
	const char *s = getenv("MKMESH_SRCDIR");
	return s && *s ? s : FUZZ_SRCDIR;
}

static char fuzz_dir_path[256];

static void fuzz_dir_remove(void)
{
	if (fuzz_dir_path[0])
		mk_rm_rf(fuzz_dir_path);
}

/* Once, from LLVMFuzzerInitialize(). */
static inline void fuzz_init(void)
{
	fuzz_stderr();
	/* as mkmesh's main() does: the ctype functions see UTF-8 bytes as
	 * the program sees them */
	setlocale(LC_CTYPE, "C.UTF-8");
	mk_verbosity = 0;
}

/* The directories BASE/mkmesh-fuzz-NAME-PID-* of processes that are gone:
 * a crash ends a harness without its atexit(). */
static inline void fuzz_dir_remove_stale(const char *base, const char *name)
{
	_cleanup_free_ char *prefix = xasprintf("mkmesh-fuzz-%s-", name);
	DIR *d = opendir(base);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		const char *digits = de->d_name + strlen(prefix);
		if (*digits < '0' || *digits > '9')
			continue; /* another harness's: recipe-layer for recipe */
		long pid = strtol(digits, &end, 10);
		if (pid > 0 && *end == '-' && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			_cleanup_free_ char *p = xasprintf("%s/%s", base, de->d_name);
			mk_rm_rf(p);
		}
	}
	closedir(d);
}

/* The harness's own directory, made on the first call: on /dev/shm when
 * there is one (no disk writes at thousands of inputs a second). */
static inline const char *fuzz_dir(const char *name)
{
	if (fuzz_dir_path[0])
		return fuzz_dir_path;
	struct stat st;
	const char *base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
				   ? "/dev/shm"
				   : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fuzz_dir_remove_stale(base, name);
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/mkmesh-fuzz-%s-%ld-XXXXXX", base, name,
		 (long)getpid());
	if (!mkdtemp(fuzz_dir_path)) {
		fprintf(fuzz_stderr(), "fuzz: cannot make a directory '%s': %m\n", fuzz_dir_path);
		exit(1);
	}
	atexit(fuzz_dir_remove);
	fuzz_init();
	return fuzz_dir_path;
}

static inline void fuzz_write(const char *path, const void *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const char *p = data;
	if (fd < 0) {
		fprintf(fuzz_stderr(), "fuzz: cannot write '%s': %m\n", path);
		exit(1);
	}
	while (size) {
		ssize_t w = write(fd, p, size);
		if (w <= 0) {
			fprintf(fuzz_stderr(), "fuzz: cannot write '%s': %m\n", path);
			exit(1);
		}
		p += w, size -= (size_t)w;
	}
	close(fd);
}

/* Copies the directories and regular files under FROM to TO; with
 * SKIP_TOP_JSON, not FROM's own *.json files. */
static inline void fuzz_copy_tree(const char *from, const char *to, bool skip_top_json)
{
	DIR *d = opendir(from);
	struct dirent *de;
	if (!d) {
		fprintf(fuzz_stderr(), "fuzz: cannot read '%s' (set MKMESH_SRCDIR to the source tree): %m\n", from);
		exit(1);
	}
	mkdir(to, 0755);
	while ((de = readdir(d))) {
		struct stat st;
		size_t n = strlen(de->d_name);
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		_cleanup_free_ char *src = xasprintf("%s/%s", from, de->d_name);
		_cleanup_free_ char *dst = xasprintf("%s/%s", to, de->d_name);
		if (stat(src, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			fuzz_copy_tree(src, dst, false);
		} else if (S_ISREG(st.st_mode)) {
			if (skip_top_json && n > 5 && !strcmp(de->d_name + n - 5, ".json"))
				continue;
			_cleanup_free_ char *text = NULL;
			size_t len = 0;
			if (mk_read_file(src, &text, &len) < 0) {
				fprintf(fuzz_stderr(), "fuzz: cannot read '%s': %m\n", src);
				exit(1);
			}
			fuzz_write(dst, text, len);
		}
	}
	closedir(d);
}

/* The input's top-level "name" when it is JSON with a name that can be a
 * file name of the recipe tree (what recipe.c accepts: [a-z0-9_-]{1,64}),
 * so that real recipes in the corpus load as what they are; else FALLBACK. */
static inline void fuzz_json_name(const uint8_t *data, size_t size, const char *fallback, char *out,
				  size_t outlen)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	const char *n = json_string_value(json_object_get(j, "name"));
	bool ok = n && *n && strlen(n) <= 64 && strlen(n) < outlen;
	for (const char *p = n; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
	snprintf(out, outlen, "%s", ok ? n : fallback);
	json_decref(j);
}

/* While a function that prints (cmd_verify()) runs: its stdout and stderr
 * go to /dev/null, unless FUZZ_VERBOSE is set. The sanitizers and
 * libFuzzer write to file descriptor 2, which stays as it is. */
static inline void fuzz_quiet(bool on)
{
	static FILE *null, *out, *err;
	if (getenv("FUZZ_VERBOSE"))
		return;
	if (!null) {
		null = fopen("/dev/null", "we");
		out = stdout;
		err = fuzz_stderr();
	}
	fflush(stdout);
	stdout = on ? null : out;
	stderr = on ? null : err;
}

/* A copy of the source tree's recipes/ (without its targets) and overlays/
 * in the harness NAME's directory, made once; its recipes/ path in OUT. */
static inline void fuzz_recipe_tree(const char *name, char *out, size_t outlen)
{
	const char *dir = fuzz_dir(name);
	_cleanup_free_ char *src_recipes = xasprintf("%s/recipes", fuzz_srcdir());
	_cleanup_free_ char *src_overlays = xasprintf("%s/overlays", fuzz_srcdir());
	_cleanup_free_ char *overlays = xasprintf("%s/overlays", dir);
	snprintf(out, outlen, "%s/recipes", dir);
	fuzz_copy_tree(src_recipes, out, true);
	fuzz_copy_tree(src_overlays, overlays, false);
}

#endif
