/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * SHA256SUMS that is the input, in a release directory that also holds an
 * image and its manifest (made once): read by `mkmesh verify DIR` (the
 * public cmd_verify(); no SHA256SUMS.sig, so minisign is never run), then
 * updated by output_update_sums() as a build does, then verified again.
 * output_update_sums() either refuses the file and leaves it as it was, or
 * writes one well-formed, sorted line per file that keeps every line of
 * the other files and gives ours its new hash.
 */
#include "fuzz.h"
#include "commands.h"
#include "output.h"

#define IMAGE "mkmesh-droplet-1.0-amd64.raw.gz"
#define IMAGE_TEXT "not really an image\n"

static char dir[300], sums[320], key[320];
static struct output_file ours;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char sha[65];
	snprintf(dir, sizeof(dir), "%s/release", fuzz_dir("sums"));
	snprintf(sums, sizeof(sums), "%s/SHA256SUMS", dir);
	snprintf(key, sizeof(key), "%s/../release.pub", dir);
	mkdir(dir, 0755);
	_cleanup_free_ char *image = xasprintf("%s/" IMAGE, dir);
	_cleanup_free_ char *manifest = xasprintf("%s/mkmesh-droplet-1.0-amd64.manifest.json", dir);
	fuzz_write(image, IMAGE_TEXT, strlen(IMAGE_TEXT));
	mk_sha256_hex(IMAGE_TEXT, strlen(IMAGE_TEXT), sha);
	_cleanup_free_ char *m = xasprintf("{\"image\": {\"file\": \"" IMAGE "\", \"sha256\": \"%s\", \"size\": %zu}}\n",
					   sha, strlen(IMAGE_TEXT));
	fuzz_write(manifest, m, strlen(m));
	fuzz_write(key, "untrusted comment: fuzz\n", 24);
	/* the build's new image: another hash than the one in the directory */
	ours.path = xasprintf("/elsewhere/out/%s", IMAGE);
	mk_sha256_hex("new", 3, ours.sha256);
	ours.size = 3;
	return 0;
}

static int verify(void)
{
	char *argv[] = {(char *)"verify", (char *)"--key", key, (char *)"-q", dir, NULL};
	optind = 0; /* getopt_long() from the start, as a new process */
	fuzz_quiet(true);
	int rc = cmd_verify(ELEMENTSOF(argv) - 1, argv);
	fuzz_quiet(false);
	/* unsigned: never good */
	FUZZ_CHECK(rc == 1, "cmd_verify() returned %d for an unsigned directory", rc);
	return rc;
}

static bool line_ok(const char *l)
{
	return strlen(l) > 66 && strspn(l, "0123456789abcdef") == 64 && l[64] == ' ' && l[65] == ' ' &&
	       !strchr(l + 66, '/') && !strchr(l + 66, '\r');
}

/* The lines of TEXT (LEN bytes) that are not about our file, in order. */
static void others(const char *text, size_t len, struct strv *out)
{
	for (const char *p = text, *end = text + len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n) {
			char *l = strndup(p, n);
			if (n > 66 && !strcmp(l + 66, IMAGE))
				free(l);
			else
				strv_push_take(out, l);
		}
		p += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096] = "";
	fuzz_write(sums, data, size);
	verify();

	int rc = output_update_sums(dir, &ours, 1, err, sizeof(err));
	_cleanup_free_ char *after = NULL;
	size_t len = 0;
	FUZZ_CHECK(mk_read_file(sums, &after, &len) == 0, "SHA256SUMS is gone (rc %d)", rc);
	if (rc < 0) {
		FUZZ_CHECK(err[0], "rc %d without a message", rc);
		FUZZ_CHECK(len == size && !memcmp(after, data, size), "a refused SHA256SUMS was changed");
	} else {
		struct strv lines = {0}, was = {0}, now = {0};
		size_t n_ours = 0;
		FUZZ_CHECK(len && after[len - 1] == '\n' && strlen(after) == len, "not lines of text");
		strv_split(&lines, after, "\n");
		for (size_t i = 0; i < lines.n; i++) {
			const char *l = lines.v[i];
			FUZZ_CHECK(line_ok(l), "line %zu is not '<sha256>  <file name>': '%s'", i + 1, l);
			FUZZ_CHECK(i == 0 || strcmp(lines.v[i - 1] + 66, l + 66) <= 0, "line %zu: not sorted", i + 1);
			if (!strcmp(l + 66, IMAGE)) {
				n_ours++;
				FUZZ_CHECK(!strncmp(l, ours.sha256, 64), "our line has another hash");
			}
		}
		FUZZ_CHECK(n_ours == 1, "%zu lines for our file", n_ours);
		/* every other line is kept (sorted by name, stable) */
		others((const char *)data, size, &was);
		others(after, len, &now);
		FUZZ_CHECK(was.n == now.n, "%zu lines of other files, %zu kept", was.n, now.n);
		for (size_t i = 0; i < was.n; i++)
			FUZZ_CHECK(strv_contains(&now, was.v[i]), "the line '%s' was dropped", was.v[i]);
		strv_release(&lines);
		strv_release(&was);
		strv_release(&now);
		verify();
	}
	unlink(sums);
	return 0;
}
