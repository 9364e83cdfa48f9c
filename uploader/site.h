/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The site file (docs/site.md) as `mkmesh deploy` needs it: loaded and
 * checked before anything is created, by the schema the machine checks it
 * with again on first boot (overlays/base/usr/share/mkmesh/site-schema.json,
 * built in), and turned into cloud-init user-data.
 * Library code: no logging; problems go to the caller's buffer, one per line,
 * each naming the file and the field.
 */
#ifndef MK_SITE_H
#define MK_SITE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../builder/util.h"

/* DigitalOcean refuses user-data larger than this. */
#define SITE_USER_DATA_MAX 65536

struct site {
	json_t *doc;
	const char *domain;             /* points into doc */
	const char *digitalocean_token; /* points into doc, or NULL */
};

/* 0, or -EINVAL (problems in err, one per line) / -errno (cannot read). */
int site_load(struct site *s, const char *path, char *err, size_t errlen);
void site_release(struct site *s);

/* A lower-case DNS name with at least two labels: the schema's domain. */
bool site_domain_valid(const char *domain);

/* UTF-8 without control characters (C0, DEL, C1, U+2028, U+2029), as every
 * string value of a site file must be. */
bool site_text_valid(const char *s);

/* 0 when the built-in schema is one both checkers understand, else -EINVAL
 * and why in err. */
int site_schema_check(char *err, size_t errlen);

/* "#cloud-config" user-data: the site file written to /etc/mkmesh/site.json
 * (root, 0600) and the given public keys (site_text_valid) in
 * ssh_authorized_keys; ASCII only, every other character JSON-escaped. */
char *site_user_data(const struct site *s, const struct strv *authorized_keys);

#endif
