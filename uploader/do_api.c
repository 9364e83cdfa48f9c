/* SPDX-License-Identifier: GPL-3.0-or-later */
/* DigitalOcean API v2: custom images and image actions. */
#include <curl/curl.h>
#include <string.h>
#include <time.h>

#include "do_api.h"
#include "http.h"

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

static int request(struct do_api *api, const char *method, const char *path, json_t *body,
		   const char *member, json_t **out, const char *what, char *err, size_t errlen)
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
		.debug = api->debug,
		.notice = api->notice,
		.userdata = api->userdata,
	};
	struct http_response resp;
	int r = http_perform(&req, &resp, err, errlen);
	curl_slist_free_all(h);
	explicit_bzero(auth, strlen(auth));
	if (r < 0) {
		http_response_release(&resp);
		return r;
	}
	api->ratelimit_remaining = resp.ratelimit_remaining;
	api->ratelimit_reset = resp.ratelimit_reset;
	if (resp.status < 200 || resp.status > 299) {
		api_error(what, &resp, err, errlen);
		r = resp.status == 401 || resp.status == 403 ? -MK_ERR_AUTH : -MK_ERR_HTTP;
		http_response_release(&resp);
		return r;
	}
	if (member && out) {
		json_error_t je;
		json_t *j = resp.body ? json_loads(resp.body, 0, &je) : NULL;
		json_t *m = json_object_get(j, member);
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
