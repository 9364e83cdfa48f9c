/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "grammar.h"

#include <string.h>

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
	return is_lower(c) || is_digit(c) || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Every byte of S[0..n) is alphanumeric or one of EXTRA. */
static bool only(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

const char *grammar_debian_version(const char *s)
{
	static const char want[] = "not a Debian version ([EPOCH:]UPSTREAM[-REVISION]: digits, "
				   "letters and . + ~ - only, UPSTREAM starting with a digit)";
	size_t len = strlen(s);
	if (len == 0 || len > 128)
		return want;
	const char *colon = strchr(s, ':');
	if (colon) {
		if (colon == s || strspn(s, "0123456789") != (size_t)(colon - s))
			return want;
		s = colon + 1;
	}
	const char *dash = strrchr(s, '-');
	size_t up = dash ? (size_t)(dash - s) : strlen(s);
	if (up == 0 || !is_digit(s[0]) || !only(s, up, dash ? ".+~-" : ".+~"))
		return want;
	if (dash && (dash[1] == '\0' || !only(dash + 1, strlen(dash + 1), ".+~")))
		return want;
	return NULL;
}

const char *grammar_debian_package(const char *s)
{
	size_t len = strlen(s);
	if (len < 2 || len > 100 || !(is_lower(s[0]) || is_digit(s[0])))
		return "not a Debian package name (a-z, 0-9, + - . only, starting with a letter or digit)";
	for (size_t i = 0; i < len; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]) && !strchr("+-.", s[i]))
			return "not a Debian package name (a-z, 0-9, + - . only, starting with a letter or digit)";
	return NULL;
}

/* [a-z0-9] then [a-z0-9-], 1..MAX. */
static bool lower_word(const char *s, size_t max, const char *extra)
{
	size_t len = strlen(s);
	if (len == 0 || len > max || !(is_lower(s[0]) || is_digit(s[0])))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower(s[i]) && !is_digit(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

const char *grammar_debian_arch(const char *s)
{
	return lower_word(s, 32, "-") ? NULL : "not a Debian architecture (amd64, arm64, all)";
}

const char *grammar_debian_suite(const char *s)
{
	return lower_word(s, 64, "-.") && is_lower(s[0])
		       ? NULL
		       : "not a Debian suite (trixie, sid, bookworm-backports: a-z, 0-9, - and . only)";
}

const char *grammar_debian_component(const char *s)
{
	return lower_word(s, 64, "-") ? NULL : "not an archive component (main, non-free-firmware)";
}

const char *grammar_http_url(const char *s)
{
	static const char want[] = "not an http:// or https:// URL of plain characters (host, "
				   "optional port and path; letters, digits and . _ ~ - / : % + = @ only)";
	const char *p;
	if (!strncmp(s, "https://", 8))
		p = s + 8;
	else if (!strncmp(s, "http://", 7))
		p = s + 7;
	else
		return want;
	size_t host = 0;
	if (*p == '[') { /* an IPv6 literal */
		const char *end = strchr(p, ']');
		if (!end || end == p + 1 || !only(p + 1, (size_t)(end - p - 1), ":."))
			return want;
		host = (size_t)(end - p + 1);
	} else {
		host = strcspn(p, ":/");
		if (host == 0 || !only(p, host, ".-") || p[0] == '-' || p[0] == '.')
			return want;
	}
	p += host;
	if (*p == ':') {
		size_t n = strspn(p + 1, "0123456789");
		if (n == 0 || n > 5)
			return want;
		p += 1 + n;
	}
	if (*p && *p != '/')
		return want;
	if (strlen(s) > 2048 || !only(p, strlen(p), "._~-/:%+=@"))
		return want;
	for (const char *q = strchr(p, '%'); q; q = strchr(q + 1, '%')) /* %XX only */
		if (!is_hex(q[1]) || !is_hex(q[2]))
			return want;
	return NULL;
}

const char *grammar_sha256(const char *s)
{
	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return "not a sha256 (64 lower-case hex digits)";
	return NULL;
}

const char *grammar_file_name(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 255 || !strcmp(s, ".") || !strcmp(s, "..") || s[0] == '-' ||
	    !only(s, len, "._+~-"))
		return "not a plain file name (letters, digits and . _ + ~ - only; no '/', not '.' or "
		       "'..', not starting with '-')";
	return NULL;
}

const char *grammar_image_version(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 64 || !is_alnum(s[0]) || !only(s, len, "._+~-"))
		return "not an image version (letters, digits and . _ + ~ - only, starting with a letter "
		       "or digit, at most 64)";
	return NULL;
}

const char *grammar_name(const char *s)
{
	return lower_word(s, 32, "-") && is_lower(s[0])
		       ? NULL
		       : "not a name (a-z, 0-9 and -, starting with a letter, at most 32)";
}

const char *grammar_local_path(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 4096)
		return "not a usable path (empty or too long)";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || strchr("'\"\\$`", c))
			return "not a usable path (printable ASCII without quotes, backslashes, '$' or '`')";
	}
	return NULL;
}
