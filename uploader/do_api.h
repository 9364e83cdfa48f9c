/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * A small DigitalOcean API v2 client: custom images (create, get, list,
 * delete), image actions (transfer, get), droplets (create, get, list by
 * name or tag, delete), domains (get, list) and domain records (list,
 * create, update, delete). Requests retry on 429 (honouring retry-after)
 * and 5xx, and wait when ratelimit-remaining reaches 0; requests that
 * create something are not sent again after a 5xx or a lost answer (the
 * caller looks first, see last_status).
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
	unsigned per_page;        /* list page size, 0: 200 (the API's maximum) */
	long last_status;         /* HTTP status of the last answer, 0: none */
	void (*debug)(void *userdata, const char *line);
	void (*notice)(void *userdata, const char *line); /* waits worth telling */
	void *userdata;
};

#define DO_API_DEFAULT_URL "https://api.digitalocean.com"

/* Where the commands find the API: returns the token, DIGITALOCEAN_TOKEN
 * or else DIGITALOCEAN_ACCESS_TOKEN (NULL when neither is set; the command
 * says how to make one). *URL, when NULL (no --api-url), becomes
 * MKMESH_DO_API_URL or else DO_API_DEFAULT_URL. */
const char *do_api_from_env(const char **url);

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
 * -MK_ERR_AUTH (401/403), -ENOENT (404), -MK_ERR_HTTP, -MK_ERR_NETWORK,
 * -MK_ERR_INTERRUPTED. */
int do_api_image_create(struct do_api *api, const struct do_image_new *in, json_t **out,
			char *err, size_t errlen);
int do_api_image_get(struct do_api *api, long long id, json_t **out, char *err, size_t errlen);
int do_api_image_delete(struct do_api *api, long long id, char *err, size_t errlen);
int do_api_image_transfer(struct do_api *api, long long id, const char *region, json_t **out,
			  char *err, size_t errlen);
int do_api_image_action_get(struct do_api *api, long long image_id, long long action_id,
			    json_t **out, char *err, size_t errlen);

/* Lists return every page in one array. */
int do_api_image_list_private(struct do_api *api, json_t **out, char *err, size_t errlen);

struct do_droplet_new {
	const char *name;
	const char *region;
	const char *size;
	long long image_id;
	const struct strv *ssh_keys; /* ids or fingerprints of keys in the account */
	const struct strv *tags;
	const char *user_data;
	bool ipv6, backups, monitoring;
};

/* The request body for IN (also what --dry-run shows). */
json_t *do_api_droplet_body(const struct do_droplet_new *in);
/* Not repeated after a 5xx or a lost answer: look by name, then try again. */
int do_api_droplet_create(struct do_api *api, const struct do_droplet_new *in, json_t **out,
			  char *err, size_t errlen);
int do_api_droplet_get(struct do_api *api, long long id, json_t **out, char *err, size_t errlen);
/* Droplets named NAME (exact, case-insensitive), or tagged TAG: one of them. */
int do_api_droplet_list(struct do_api *api, const char *name, const char *tag, json_t **out,
			char *err, size_t errlen);
int do_api_droplet_delete(struct do_api *api, long long id, char *err, size_t errlen);
/* The first public address of the droplet ("v4" or "v6"), or "". */
const char *do_api_droplet_address(json_t *droplet, const char *version);

int do_api_domain_get(struct do_api *api, const char *name, json_t **out, char *err,
		      size_t errlen);
int do_api_domain_list(struct do_api *api, json_t **out, char *err, size_t errlen);
/* All records of DOMAIN, or those of the fully qualified FQDN and TYPE (either may be NULL). */
int do_api_record_list(struct do_api *api, const char *domain, const char *fqdn,
		       const char *type, json_t **out, char *err, size_t errlen);
/* RECORD: {type, name, data, ...} as the API takes it. Create is not repeated
 * after a 5xx or a lost answer (list, then try again). */
int do_api_record_create(struct do_api *api, const char *domain, json_t *record, json_t **out,
			 char *err, size_t errlen);
int do_api_record_update(struct do_api *api, const char *domain, long long id, json_t *record,
			 json_t **out, char *err, size_t errlen);
/* A record that is already gone (404) is no error. */
int do_api_record_delete(struct do_api *api, const char *domain, long long id, char *err,
			 size_t errlen);

/* Helpers for the objects: a string member or "", an integer member or -1. */
const char *do_api_str(json_t *obj, const char *key);
long long do_api_int(json_t *obj, const char *key);

#endif
