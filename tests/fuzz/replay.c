/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The replay of a fuzz harness without libFuzzer, for `make test`: the
 * harness (tests/fuzz/NAME.c, built with -DFUZZ_NAME="NAME") is called on
 * every file of tests/fuzz/corpus/NAME/ and of tests/fuzz/crashes/NAME/
 * (reproducers of crashes that were fixed), or of the directories or files
 * given as arguments. Each input is in a buffer of exactly its size, as
 * libFuzzer gives it. A crash, a sanitizer report or a failed check ends
 * the run with a non-zero exit; "N inputs replayed" means all passed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

#ifndef FUZZ_NAME
#error "FUZZ_NAME: which harness this replays"
#endif
#ifndef FUZZ_SRCDIR
#define FUZZ_SRCDIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t replay_file(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	if (mk_read_file(path, &text, &len) < 0) {
		fprintf(stderr, "replay: cannot read '%s': %m\n", path);
		exit(1);
	}
	/* exactly LEN bytes: an overread is caught */
	uint8_t *data = xmalloc(len ? len : 1);
	memcpy(data, text, len);
	free(text);
	printf("replay: %s (%zu bytes)\n", path, len);
	fflush(stdout);
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 1;
}

/* Every regular file of PATH (a directory, in name order) or PATH itself. */
static size_t replay_path(const char *path, bool must_exist)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (!must_exist)
			return 0;
		fprintf(stderr, "replay: '%s': %m\n", path);
		exit(1);
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path);
	struct strv names = {0};
	DIR *d = opendir(path);
	struct dirent *de;
	if (!d) {
		fprintf(stderr, "replay: cannot read '%s': %m\n", path);
		exit(1);
	}
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			strv_push(&names, de->d_name);
	closedir(d);
	if (names.n)
		qsort(names.v, names.n, sizeof(*names.v), cmp_str);
	size_t n = 0;
	for (size_t i = 0; i < names.n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", path, names.v[i]);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			n += replay_file(p);
	}
	strv_release(&names);
	return n;
}

int main(int argc, char **argv)
{
	size_t n = 0;
	LLVMFuzzerInitialize(&argc, &argv);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			n += replay_path(argv[i], true);
	} else {
		const char *src = getenv("MKMESH_SRCDIR") && *getenv("MKMESH_SRCDIR") ? getenv("MKMESH_SRCDIR")
											: FUZZ_SRCDIR;
		_cleanup_free_ char *corpus = xasprintf("%s/tests/fuzz/corpus/%s", src, FUZZ_NAME);
		_cleanup_free_ char *crashes = xasprintf("%s/tests/fuzz/crashes/%s", src, FUZZ_NAME);
		n += replay_path(corpus, true);
		n += replay_path(crashes, false);
	}
	if (n == 0) {
		fprintf(stderr, "replay: %s: no inputs to replay\n", FUZZ_NAME);
		return 1;
	}
	printf("%s: %zu inputs replayed\n", FUZZ_NAME, n);
	return 0;
}
