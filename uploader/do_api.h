/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A small DigitalOcean API v2 client: custom images (create, get, delete)
 * and image actions (transfer, get). Requests retry on 429 (honouring
 * retry-after) and 5xx, and wait when ratelimit-remaining reaches 0.
 * Library code: no logging; errors go to the caller's buffer, with the
 * API's own words ("id" and "message" of its error object).
 */
#ifndef MK_DO_API_H
#define MK_DO_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../builder/util.h"

struct do_api {
	char *base_url; /* https://api.digitalocean.com, no trailing slash */
	char *token;
	long ratelimit_remaining; /* from the last answer, -1: unknown */
	long ratelimit_reset;
	unsigned max_tries;       /* 0: 6 */
	void (*debug)(void *userdata, const char *line);
	void (*notice)(void *userdata, const char *line); /* waits worth telling */
	void *userdata;
};

struct do_api *do_api_new(const char *base_url, const char *token);
void do_api_free(struct do_api *api);

struct do_image_new {
	const char *name;
	const char *url;
	const char *region;
	const char *distribution;
	const char *description;
	const struct strv *tags;
};

/* Each returns 0 and the object ("image" / "action") in *out, or
 * -MK_ERR_AUTH (401/403), -MK_ERR_HTTP, -MK_ERR_NETWORK, -MK_ERR_INTERRUPTED. */
int do_api_image_create(struct do_api *api, const struct do_image_new *in, json_t **out,
			char *err, size_t errlen);
int do_api_image_get(struct do_api *api, long long id, json_t **out, char *err, size_t errlen);
int do_api_image_delete(struct do_api *api, long long id, char *err, size_t errlen);
int do_api_image_transfer(struct do_api *api, long long id, const char *region, json_t **out,
			  char *err, size_t errlen);
int do_api_image_action_get(struct do_api *api, long long image_id, long long action_id,
			    json_t **out, char *err, size_t errlen);

/* Helpers for the objects: a string member or "", an integer member or -1. */
const char *do_api_str(json_t *obj, const char *key);
long long do_api_int(json_t *obj, const char *key);

#endif
