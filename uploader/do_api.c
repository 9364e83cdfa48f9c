/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DigitalOcean API v2: images, image actions, droplets, domains, domain records. */
#include <curl/curl.h>
#include <string.h>
#include <time.h>

#include "do_api.h"
#include "http.h"

const char *do_api_from_env(const char **url)
{
	if (!*url)
		*url = mk_getenv2("MKMESH_DO_API_URL", NULL);
	if (!*url)
		*url = DO_API_DEFAULT_URL;
	return mk_getenv2("DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN");
}

struct do_api *do_api_new(const char *base_url, const char *token)
{
	struct do_api *api = xcalloc(1, sizeof(*api));
	api->base_url = xstrdup(base_url);
	size_t n = strlen(api->base_url);
	while (n && api->base_url[n - 1] == '/')
		api->base_url[--n] = '\0';
	api->token = xstrdup(token);
	api->ratelimit_remaining = api->ratelimit_reset = -1;
	return api;
}

void do_api_free(struct do_api *api)
{
	if (!api)
		return;
	free(api->base_url);
	if (api->token) {
		explicit_bzero(api->token, strlen(api->token));
		free(api->token);
	}
	free(api);
}

const char *do_api_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "";
}

long long do_api_int(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void tell(struct do_api *api, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(struct do_api *api, const char *fmt, ...)
{
	if (!api->notice)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0) {
		api->notice(api->userdata, s);
		free(s);
	}
	va_end(ap);
}

/* The API's error object, {"id": ..., "message": ...}, as text. */
static void api_error(const char *what, const struct http_response *resp, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j = resp->body ? json_loads(resp->body, 0, &je) : NULL;
	const char *id = do_api_str(j, "id"), *msg = do_api_str(j, "message");
	snprintf(err, errlen, "%s: HTTP %ld%s%s%s%s", what, resp->status, *id ? " " : "", id,
		 *msg ? ": " : "", msg);
	json_decref(j);
}

static int request_ex(struct do_api *api, const char *method, const char *path, json_t *body,
		      const char *member, json_t **out, const char *what, bool once, char *err,
		      size_t errlen)
{
	/* Wait for the window to reset rather than be refused. */
	if (api->ratelimit_remaining == 0 && api->ratelimit_reset > 0) {
		time_t now = time(NULL);
		if (api->ratelimit_reset > now) {
			long wait = (long)(api->ratelimit_reset - now);
			if (wait > 3600)
				wait = 3600;
			tell(api, "API rate limit reached; waiting %ld s for it to reset", wait);
			if (http_sleep((double)wait, false) < 0) {
				snprintf(err, errlen, "interrupted");
				return -MK_ERR_INTERRUPTED;
			}
		}
	}
	_cleanup_free_ char *url = xasprintf("%s%s", api->base_url, path);
	_cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", api->token);
	_cleanup_free_ char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	struct curl_slist *h = curl_slist_append(NULL, auth);
	h = curl_slist_append(h, "Accept: application/json");
	if (payload)
		h = curl_slist_append(h, "Content-Type: application/json");
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = h,
		.body = payload,
		.body_len = payload ? strlen(payload) : 0,
		.max_tries = api->max_tries,
		.not_replayable = once,
		.debug = api->debug,
		.notice = api->notice,
		.userdata = api->userdata,
	};
	struct http_response resp;
	api->last_status = 0;
	int r = http_perform(&req, &resp, err, errlen);
	curl_slist_free_all(h);
	explicit_bzero(auth, strlen(auth));
	if (payload)
		explicit_bzero(payload, strlen(payload)); /* user-data may hold a token */
	if (r < 0) {
		http_response_release(&resp);
		return r;
	}
	api->ratelimit_remaining = resp.ratelimit_remaining;
	api->ratelimit_reset = resp.ratelimit_reset;
	api->last_status = resp.status;
	if (resp.status < 200 || resp.status > 299) {
		api_error(what, &resp, err, errlen);
		r = resp.status == 401 || resp.status == 403 ? -MK_ERR_AUTH
		    : resp.status == 404			 ? -ENOENT
								 : -MK_ERR_HTTP;
		http_response_release(&resp);
		return r;
	}
	if (member && out) {
		json_error_t je;
		json_t *j = resp.body ? json_loads(resp.body, 0, &je) : NULL;
		json_t *m = *member ? json_object_get(j, member) : j;
		/* The spec's schema for an action answer is the bare object. */
		if (!m && j && json_object_get(j, "id"))
			m = j;
		if (!json_is_object(m)) {
			snprintf(err, errlen, "%s: the answer has no \"%s\" object%s%s", what, member,
				 j ? "" : ": ", j ? "" : je.text);
			json_decref(j);
			http_response_release(&resp);
			return -MK_ERR_HTTP;
		}
		*out = json_incref(m);
		json_decref(j);
	}
	http_response_release(&resp);
	return 0;
}

static int request(struct do_api *api, const char *method, const char *path, json_t *body,
		   const char *member, json_t **out, const char *what, char *err, size_t errlen)
{
	return request_ex(api, method, path, body, member, out, what, false, err, errlen);
}

/* GET PATH page by page (it may hold a query already); MEMBER's arrays joined. */
static int list_all(struct do_api *api, const char *path, const char *member, json_t **out,
		    const char *what, char *err, size_t errlen)
{
	unsigned per_page = api->per_page ? api->per_page : 200;
	json_t *all = json_array();
	for (unsigned page = 1; page <= 10000; page++) {
		_cleanup_free_ char *p = xasprintf("%s%cper_page=%u&page=%u", path,
						   strchr(path, '?') ? '&' : '?', per_page, page);
		json_t *j = NULL;
		int r = request(api, "GET", p, NULL, "", &j, what, err, errlen);
		if (r < 0) {
			json_decref(all);
			return r;
		}
		json_t *items = json_object_get(j, member);
		if (!json_is_array(items)) {
			snprintf(err, errlen, "%s: the answer has no \"%s\" list", what, member);
			json_decref(j);
			json_decref(all);
			return -MK_ERR_HTTP;
		}
		json_array_extend(all, items);
		json_t *next = json_object_get(json_object_get(json_object_get(j, "links"), "pages"),
					       "next");
		long long total = do_api_int(json_object_get(j, "meta"), "total");
		bool more = json_array_size(items) > 0 && json_is_string(next) &&
			    (total < 0 || (long long)json_array_size(all) < total);
		json_decref(j);
		if (!more)
			break;
	}
	*out = all;
	return 0;
}

int do_api_image_create(struct do_api *api, const struct do_image_new *in, json_t **out,
			char *err, size_t errlen)
{
	json_t *b = json_pack("{s:s, s:s, s:s}", "name", in->name, "url", in->url, "region",
			      in->region);
	if (in->distribution)
		json_object_set_new(b, "distribution", json_string(in->distribution));
	if (in->description)
		json_object_set_new(b, "description", json_string(in->description));
	if (in->tags && in->tags->n) {
		json_t *t = json_array();
		for (size_t i = 0; i < in->tags->n; i++)
			json_array_append_new(t, json_string(in->tags->v[i]));
		json_object_set_new(b, "tags", t);
	}
	int r = request(api, "POST", "/v2/images", b, "image", out, "creating the custom image",
			err, errlen);
	/* The body holds a presigned URL: do not leave it lying in memory. */
	json_decref(b);
	return r;
}

int do_api_image_get(struct do_api *api, long long id, json_t **out, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/images/%lld", id);
	_cleanup_free_ char *what = xasprintf("reading image %lld", id);
	return request(api, "GET", path, NULL, "image", out, what, err, errlen);
}

int do_api_image_delete(struct do_api *api, long long id, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/images/%lld", id);
	_cleanup_free_ char *what = xasprintf("deleting image %lld", id);
	return request(api, "DELETE", path, NULL, NULL, NULL, what, err, errlen);
}

int do_api_image_transfer(struct do_api *api, long long id, const char *region, json_t **out,
			  char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/images/%lld/actions", id);
	_cleanup_free_ char *what = xasprintf("transferring image %lld to '%s'", id, region);
	json_t *b = json_pack("{s:s, s:s}", "type", "transfer", "region", region);
	int r = request(api, "POST", path, b, "action", out, what, err, errlen);
	json_decref(b);
	return r;
}

int do_api_image_action_get(struct do_api *api, long long image_id, long long action_id,
			    json_t **out, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/images/%lld/actions/%lld", image_id, action_id);
	_cleanup_free_ char *what = xasprintf("reading action %lld of image %lld", action_id, image_id);
	return request(api, "GET", path, NULL, "action", out, what, err, errlen);
}

int do_api_image_list_private(struct do_api *api, json_t **out, char *err, size_t errlen)
{
	return list_all(api, "/v2/images?private=true", "images", out, "listing your images", err,
			errlen);
}

json_t *do_api_droplet_body(const struct do_droplet_new *in)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:I, s:b, s:b, s:b}", "name", in->name, "region",
			      in->region, "size", in->size, "image", (json_int_t)in->image_id,
			      "ipv6", in->ipv6, "backups", in->backups, "monitoring", in->monitoring);
	json_t *keys = json_array();
	for (size_t i = 0; in->ssh_keys && i < in->ssh_keys->n; i++) {
		const char *k = in->ssh_keys->v[i];
		/* An id is a number; a fingerprint is a string. */
		char *end;
		long long id = strtoll(k, &end, 10);
		json_array_append_new(keys, *k && !*end && id > 0 ? json_integer(id) : json_string(k));
	}
	json_object_set_new(b, "ssh_keys", keys);
	json_t *tags = json_array();
	for (size_t i = 0; in->tags && i < in->tags->n; i++)
		json_array_append_new(tags, json_string(in->tags->v[i]));
	json_object_set_new(b, "tags", tags);
	if (in->user_data)
		json_object_set_new(b, "user_data", json_string(in->user_data));
	return b;
}

int do_api_droplet_create(struct do_api *api, const struct do_droplet_new *in, json_t **out,
			  char *err, size_t errlen)
{
	json_t *b = do_api_droplet_body(in);
	_cleanup_free_ char *what = xasprintf("creating droplet '%s'", in->name);
	int r = request_ex(api, "POST", "/v2/droplets", b, "droplet", out, what, true, err, errlen);
	json_t *ud = json_object_get(b, "user_data");
	if (json_is_string(ud))
		explicit_bzero((char *)json_string_value(ud), json_string_length(ud));
	json_decref(b);
	return r;
}

int do_api_droplet_get(struct do_api *api, long long id, json_t **out, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/droplets/%lld", id);
	_cleanup_free_ char *what = xasprintf("reading droplet %lld", id);
	return request(api, "GET", path, NULL, "droplet", out, what, err, errlen);
}

static char *escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	if (!e)
		abort();
	char *r = xstrdup(e);
	curl_free(e);
	return r;
}

int do_api_droplet_list(struct do_api *api, const char *name, const char *tag, json_t **out,
			char *err, size_t errlen)
{
	_cleanup_free_ char *q = escape(name ? name : tag ? tag : "");
	_cleanup_free_ char *path = name  ? xasprintf("/v2/droplets?name=%s", q)
				    : tag ? xasprintf("/v2/droplets?tag_name=%s", q)
					  : xstrdup("/v2/droplets");
	_cleanup_free_ char *what = name  ? xasprintf("looking for droplet '%s'", name)
				    : tag ? xasprintf("listing droplets tagged '%s'", tag)
					  : xstrdup("listing droplets");
	return list_all(api, path, "droplets", out, what, err, errlen);
}

int do_api_droplet_delete(struct do_api *api, long long id, char *err, size_t errlen)
{
	_cleanup_free_ char *path = xasprintf("/v2/droplets/%lld", id);
	_cleanup_free_ char *what = xasprintf("deleting droplet %lld", id);
	return request(api, "DELETE", path, NULL, NULL, NULL, what, err, errlen);
}

const char *do_api_droplet_address(json_t *droplet, const char *version)
{
	json_t *nets = json_object_get(json_object_get(droplet, "networks"), version);
	size_t i;
	json_t *n;
	json_array_foreach(nets, i, n) {
		if (!strcmp(do_api_str(n, "type"), "public") && *do_api_str(n, "ip_address"))
			return do_api_str(n, "ip_address");
	}
	return "";
}

int do_api_domain_get(struct do_api *api, const char *name, json_t **out, char *err,
		      size_t errlen)
{
	_cleanup_free_ char *q = escape(name);
	_cleanup_free_ char *path = xasprintf("/v2/domains/%s", q);
	_cleanup_free_ char *what = xasprintf("reading domain '%s'", name);
	return request(api, "GET", path, NULL, "domain", out, what, err, errlen);
}

int do_api_domain_list(struct do_api *api, json_t **out, char *err, size_t errlen)
{
	return list_all(api, "/v2/domains", "domains", out, "listing your domains", err, errlen);
}

int do_api_record_list(struct do_api *api, const char *domain, const char *fqdn,
		       const char *type, json_t **out, char *err, size_t errlen)
{
	_cleanup_free_ char *q = escape(domain);
	_cleanup_free_ char *qn = escape(fqdn ? fqdn : "");
	_cleanup_free_ char *path = xasprintf("/v2/domains/%s/records%s%s%s%s%s", q,
					      fqdn || type ? "?" : "", fqdn ? "name=" : "", fqdn ? qn : "",
					      fqdn && type ? "&type=" : type ? "type=" : "",
					      type ? type : "");
	_cleanup_free_ char *what = xasprintf("listing the records of '%s'", domain);
	return list_all(api, path, "domain_records", out, what, err, errlen);
}

static char *record_text(const char *domain, json_t *rec)
{
	const char *name = do_api_str(rec, "name");
	return xasprintf("%s%s%s %s %s", strcmp(name, "@") ? name : "", strcmp(name, "@") ? "." : "",
			 domain, do_api_str(rec, "type"), do_api_str(rec, "data"));
}

int do_api_record_create(struct do_api *api, const char *domain, json_t *record, json_t **out,
			 char *err, size_t errlen)
{
	_cleanup_free_ char *q = escape(domain);
	_cleanup_free_ char *path = xasprintf("/v2/domains/%s/records", q);
	_cleanup_free_ char *rt = record_text(domain, record);
	_cleanup_free_ char *what = xasprintf("creating record '%s'", rt);
	return request_ex(api, "POST", path, record, "domain_record", out, what, true, err, errlen);
}

int do_api_record_update(struct do_api *api, const char *domain, long long id, json_t *record,
			 json_t **out, char *err, size_t errlen)
{
	_cleanup_free_ char *q = escape(domain);
	_cleanup_free_ char *path = xasprintf("/v2/domains/%s/records/%lld", q, id);
	_cleanup_free_ char *rt = record_text(domain, record);
	_cleanup_free_ char *what = xasprintf("updating record %lld to '%s'", id, rt);
	return request(api, "PUT", path, record, "domain_record", out, what, err, errlen);
}

int do_api_record_delete(struct do_api *api, const char *domain, long long id, char *err,
			 size_t errlen)
{
	_cleanup_free_ char *q = escape(domain);
	_cleanup_free_ char *path = xasprintf("/v2/domains/%s/records/%lld", q, id);
	_cleanup_free_ char *what = xasprintf("deleting record %lld of '%s'", id, domain);
	int r = request(api, "DELETE", path, NULL, NULL, NULL, what, err, errlen);
	return r == -ENOENT ? 0 : r;
}
