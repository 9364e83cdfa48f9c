/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The command-line inputs `mkmesh deploy` and `mkmesh seed` share: one
 * site file check, one reading of --ssh-key, one default host name, so that
 * a droplet and a seeded VM or Pi get byte-identical user-data and the same
 * refusals.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "../builder/util.h"
#include "site_args.h"

int site_args_load(struct site *s, const char *path)
{
	char serr[4096];
	int r = site_load(s, path, serr, sizeof(serr));
	if (r < 0) {
		for (char *save = NULL, *l = strtok_r(serr, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			mk_log_error("%s", l);
		mk_log_error("the site file is not valid; docs/site.md describes it");
	}
	return r;
}

bool site_args_is_pubkey(const char *s)
{
	return !strncmp(s, "ssh-", 4) || !strncmp(s, "ecdsa-", 6) || !strncmp(s, "sk-", 3);
}

bool site_args_pubkey_valid(const char *line)
{
	if (!site_args_is_pubkey(line) || !site_text_valid(line))
		return false;
	const char *p = line;
	while (*p && *p != ' ' && *p != '\t') {
		if (!isalnum((unsigned char)*p) && !strchr("-@._", *p))
			return false;
		p++;
	}
	if (*p != ' ' && *p != '\t')
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	size_t n = 0, pad = 0;
	for (; *p && *p != ' ' && *p != '\t'; p++, n++) {
		if (*p == '=')
			pad++;
		else if (pad || (!isalnum((unsigned char)*p) && *p != '+' && *p != '/'))
			return false;
	}
	return n >= 16 && pad <= 2 && n % 4 == 0;
}

static int add_key_line(struct strv *keys, const char *key, const char *line, unsigned lineno)
{
	if (!site_text_valid(line)) {
		if (lineno)
			mk_log_error("--ssh-key '%s': line %u is not UTF-8 text or has a control character "
				     "in it: it would change the user-data; fix or remove that line", key, lineno);
		else
			mk_log_error("--ssh-key: the key is not UTF-8 text or has a control character in it");
		return -EINVAL;
	}
	if (!site_args_pubkey_valid(line)) {
		if (lineno)
			mk_log_error("--ssh-key '%s': line %u is not an OpenSSH public key ('TYPE BASE64 "
				     "[COMMENT]', as 'ssh-keygen' writes it to ~/.ssh/id_ed25519.pub)", key, lineno);
		else
			mk_log_error("--ssh-key: not an OpenSSH public key ('TYPE BASE64 [COMMENT]', as "
				     "'ssh-keygen' writes it to ~/.ssh/id_ed25519.pub)");
		return -EINVAL;
	}
	strv_push(keys, line);
	return 0;
}

int site_args_add_key(struct strv *keys, const char *key)
{
	struct stat st;
	if (site_args_is_pubkey(key))
		return add_key_line(keys, key, key, 0);
	if (stat(key, &st) < 0)
		return -ENOENT;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r = mk_read_regular(AT_FDCWD, key, 0, 1 << 20, &text, &len);
	if (r < 0) {
		mk_log_error("cannot read --ssh-key '%s': %s", key, mk_strerror(r));
		return -EINVAL;
	}
	if (strstr(text, "PRIVATE KEY")) {
		mk_log_error("--ssh-key '%s' is a private key: give the public one ('%s.pub')", key, key);
		explicit_bzero(text, len);
		return -EINVAL;
	}
	struct strv found = {0};
	unsigned lineno = 0;
	for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		lineno++;
		p[strcspn(p, "\r")] = '\0';
		if (!site_args_is_pubkey(p))
			continue;
		if ((r = add_key_line(&found, key, p, lineno)) < 0) {
			strv_release(&found);
			return r;
		}
	}
	if (!found.n) {
		mk_log_error("--ssh-key '%s' has no public key in it (lines starting with ssh-, "
			     "ecdsa- or sk-)", key);
		return -EINVAL;
	}
	for (size_t i = 0; i < found.n; i++)
		strv_push(keys, found.v[i]);
	strv_release(&found);
	return 0;
}

char *site_args_default_name(const char *domain)
{
	char *name = xasprintf("mkmesh-%s", domain);
	for (char *p = name; *p; p++)
		if (*p == '.')
			*p = '-';
	return name;
}

bool site_args_hostname_valid(const char *h)
{
	size_t n = strlen(h), label = 0;
	if (!n || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = h[i];
		if (c == '.' || !c) {
			if (!label || h[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || (c == '-' && label)))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}
