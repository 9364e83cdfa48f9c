/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The site file (docs/site.md) as `mkmesh deploy` needs it: loaded and
 * checked before anything is created (the machine checks it again on first
 * boot with /usr/lib/mkmesh/site), and turned into cloud-init user-data.
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

/* A lower-case DNS name with at least two labels, as the machine wants it. */
bool site_domain_valid(const char *domain);

/* "#cloud-config" user-data: the site file written to /etc/mkmesh/site.json
 * (root, 0600) and the given public keys in ssh_authorized_keys. */
char *site_user_data(const struct site *s, const struct strv *authorized_keys);

#endif
