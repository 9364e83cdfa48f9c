/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * site_load() on a site file (mkmesh deploy --site FILE) that is the input,
 * and for one it accepted, site_user_data(): the cloud-config that carries
 * it to /etc/mkmesh/site.json. cloud-init reads that as YAML 1.1, where a
 * line ends at \n, \r, U+0085 (NEL), U+2028 or U+2029; the site file's
 * block must stay one block of lines indented by six spaces, and give back
 * the same JSON.
 */
#include "fuzz.h"
#include "site.h"

static char path[300];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	snprintf(path, sizeof(path), "%s/site.json", fuzz_dir("site"));
	return 0;
}

/* The length of a YAML 1.1 line break at P, 0 if there is none. */
static size_t yaml_break(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;
	if (u[0] == '\r' && u[1] == '\n')
		return 2;
	if (u[0] == '\n' || u[0] == '\r')
		return 1;
	if (u[0] == 0xc2 && u[1] == 0x85)
		return 2;
	if (u[0] == 0xe2 && u[1] == 0x80 && (u[2] == 0xa8 || u[2] == 0xa9))
		return 3;
	return 0;
}

static void check_user_data(const struct site *s, const char *ud)
{
	static const char head[] = "    content: |\n";
	FUZZ_CHECK(!strncmp(ud, "#cloud-config\n", 14), "no #cloud-config line");
	const char *block = strstr(ud, head);
	FUZZ_CHECK(block, "no content block");
	/* Every line before the block is one of ours. */
	for (const char *p = ud; p < block;) {
		size_t n = 0, b;
		while (p + n < block && !(b = yaml_break(p + n)))
			n++;
		FUZZ_CHECK(p + n < block, "the lines before the block do not end with a line break");
		FUZZ_CHECK(b == 1 && p[n] == '\n', "a line break other than \\n before the block: '%.*s'", (int)n, p);
		p += n + b;
	}
	/* The block: each line indented; unindented, the same JSON. */
	char *json = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&json, &len);
	for (const char *p = block + strlen(head); *p;) {
		size_t n = 0, b;
		while (p[n] && !(b = yaml_break(p + n)))
			n++;
		FUZZ_CHECK(p[n], "the last line has no line break");
		FUZZ_CHECK(n >= 6 && !strncmp(p, "      ", 6),
			   "a line of the site file's block is not indented (it ends the block): '%.*s'", (int)n, p);
		FUZZ_CHECK(b == 1 && p[n] == '\n',
			   "a line break other than \\n in the site file's block: YAML ends the line there: '%.*s'",
			   (int)n, p);
		fprintf(f, "%.*s\n", (int)(n - 6), p + 6);
		p += n + b;
	}
	fclose(f);
	json_error_t je;
	json_t *back = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	FUZZ_CHECK(back, "the block is not JSON: %s", je.text);
	FUZZ_CHECK(json_equal(back, s->doc), "the block is not the site file");
	json_decref(back);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096];
	struct site s;
	fuzz_write(path, data, size);
	int rc = site_load(&s, path, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || (rc < 0 && err[0]), "rc %d without a message", rc);
	if (rc == 0) {
		FUZZ_CHECK(s.domain && site_domain_valid(s.domain), "domain");
		static const char *const k[] = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBfuzzfuzz alice@example.org",
						"ssh-rsa AAAAB3NzaC1yc2E bob"};
		struct strv keys = {0};
		for (size_t i = 0; i < ELEMENTSOF(k); i++)
			strv_push(&keys, k[i]);
		char *ud = site_user_data(&s, &keys);
		FUZZ_CHECK(ud, "no user-data");
		check_user_data(&s, ud);
		free(ud);
		strv_release(&keys);
		site_release(&s);
	}
	/* the domain check on the input as a string */
	char *str = strndup((const char *)data, size);
	site_domain_valid(str);
	free(str);
	return 0;
}
