/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The DigitalOcean client and the HTTP retry policy against a scripted HTTP
 * server on loopback (a thread in this process): request shape, retries on
 * 5xx, 429 with retry-after, a dropped connection, no retry on 401, the
 * wait for ratelimit-reset, error text without the token.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tests.h"
#include "do_api.h"
#include "http.h"
#include "util.h"

#define TOKEN "dop_v1_unit_test_token_0123456789"

struct canned {
	int status; /* 0: close the connection without answering */
	const char *headers;
	const char *body;
};

static struct {
	int fd, port;
	struct canned script[8];
	int n, next;
	char requests[8][4096];
	double when[8];
	pthread_t thread;
} srv;

static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(srv.fd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[4096] = "";
		size_t len = 0;
		/* Headers, then Content-Length bytes of body. */
		for (;;) {
			ssize_t r = read(c, buf + len, sizeof(buf) - 1 - len);
			if (r <= 0)
				break;
			len += (size_t)r;
			buf[len] = '\0';
			char *end = strstr(buf, "\r\n\r\n");
			if (!end)
				continue;
			const char *cl = strcasestr(buf, "content-length:");
			size_t want = cl ? (size_t)atol(cl + 15) : 0;
			if (len >= (size_t)(end + 4 - buf) + want)
				break;
		}
		int i = srv.next++;
		if (i < 8) {
			memcpy(srv.requests[i], buf, sizeof(buf));
			srv.when[i] = mk_now();
		}
		struct canned *k = &srv.script[i < srv.n ? i : srv.n - 1];
		if (k->status) {
			char *resp = xasprintf("HTTP/1.1 %d X\r\nConnection: close\r\nContent-Type: application/json\r\n"
					       "Content-Length: %zu\r\n%s\r\n%s",
					       k->status, strlen(k->body), k->headers ? k->headers : "", k->body);
			ssize_t w = write(c, resp, strlen(resp));
			(void)w;
			free(resp);
		}
		close(c);
	}
}

static void script(int n, const struct canned *k)
{
	if (!srv.fd) {
		srv.fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t al = sizeof(a);
		bind(srv.fd, (struct sockaddr *)&a, sizeof(a));
		listen(srv.fd, 8);
		getsockname(srv.fd, (struct sockaddr *)&a, &al);
		srv.port = ntohs(a.sin_port);
		pthread_create(&srv.thread, NULL, serve, NULL);
		setenv("MKMESH_RETRY_BASE_SECONDS", "0.01", 1);
	}
	memcpy(srv.script, k, (size_t)n * sizeof(*k));
	srv.n = n;
	srv.next = 0;
	memset(srv.requests, 0, sizeof(srv.requests));
}

static struct do_api *api(void)
{
	char *url = xasprintf("http://127.0.0.1:%d/", srv.port);
	struct do_api *a = do_api_new(url, TOKEN);
	free(url);
	return a;
}

#define IMAGE_JSON "{\"image\":{\"id\":38413969,\"name\":\"n\",\"status\":\"NEW\",\"error_message\":\"\"}}"

TEST(create_request_shape)
{
	struct canned k[] = {{202, NULL, IMAGE_JSON}};
	script(1, k);
	struct do_api *a = api();
	struct strv tags = {0};
	strv_push(&tags, "mesh");
	struct do_image_new in = {.name = "n", .url = "https://s/x.raw.gz?X-Amz-Signature=abc",
				  .region = "nyc3", .distribution = "Debian", .description = "d",
				  .tags = &tags};
	json_t *img = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_create(a, &in, &img, err, sizeof(err)), 0);
	ASSERT_EQ(do_api_int(img, "id"), 38413969);
	ASSERT_STREQ(do_api_str(img, "status"), "NEW");
	const char *r = srv.requests[0];
	ASSERT_TRUE(!strncmp(r, "POST /v2/images HTTP/1.1\r\n", 26));
	ASSERT_TRUE(strstr(r, "Authorization: Bearer " TOKEN "\r\n") != NULL);
	ASSERT_TRUE(strstr(r, "Content-Type: application/json\r\n") != NULL);
	const char *body = strstr(r, "\r\n\r\n") + 4;
	json_error_t je;
	json_t *j = json_loads(body, 0, &je);
	ASSERT_STREQ(do_api_str(j, "name"), "n");
	ASSERT_STREQ(do_api_str(j, "region"), "nyc3");
	ASSERT_STREQ(do_api_str(j, "distribution"), "Debian");
	ASSERT_STREQ(json_string_value(json_array_get(json_object_get(j, "tags"), 0)), "mesh");
	json_decref(j);
	json_decref(img);
	strv_release(&tags);
	do_api_free(a);
}

TEST(retry_5xx_and_dropped_connection)
{
	struct canned k[] = {{500, NULL, "{\"id\":\"server_error\",\"message\":\"x\"}"},
			     {0, NULL, NULL},
			     {200, NULL, IMAGE_JSON}};
	script(3, k);
	struct do_api *a = api();
	json_t *img = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_get(a, 38413969, &img, err, sizeof(err)), 0);
	ASSERT_EQ(srv.next, 3);
	ASSERT_TRUE(!strncmp(srv.requests[2], "GET /v2/images/38413969 HTTP/1.1", 32));
	json_decref(img);
	do_api_free(a);
}

TEST(retry_after_honoured)
{
	struct canned k[] = {{429, "retry-after: 1\r\n", "{\"id\":\"too_many_requests\",\"message\":\"API rate limit exceeded.\"}"},
			     {200, NULL, IMAGE_JSON}};
	script(2, k);
	struct do_api *a = api();
	json_t *img = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_get(a, 1, &img, err, sizeof(err)), 0);
	ASSERT_EQ(srv.next, 2);
	ASSERT_TRUE(srv.when[1] - srv.when[0] >= 0.95);
	json_decref(img);
	do_api_free(a);
}

TEST(unauthorized_not_retried_token_not_shown)
{
	struct canned k[] = {{401, NULL, "{\"id\":\"unauthorized\",\"message\":\"Unable to authenticate you.\"}"}};
	script(1, k);
	struct do_api *a = api();
	json_t *img = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_get(a, 1, &img, err, sizeof(err)), -MK_ERR_AUTH);
	ASSERT_EQ(srv.next, 1);
	ASSERT_STREQ(err, "reading image 1: HTTP 401 unauthorized: Unable to authenticate you.");
	ASSERT_TRUE(strstr(err, TOKEN) == NULL);
	do_api_free(a);
}

TEST(ratelimit_reset_waited_for)
{
	char hdr[128];
	snprintf(hdr, sizeof(hdr), "ratelimit-remaining: 0\r\nratelimit-reset: %lld\r\n",
		 (long long)time(NULL) + 1);
	struct canned k[] = {{200, hdr, IMAGE_JSON}, {200, NULL, IMAGE_JSON}};
	script(2, k);
	struct do_api *a = api();
	json_t *img = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_get(a, 1, &img, err, sizeof(err)), 0);
	json_decref(img);
	ASSERT_EQ(a->ratelimit_remaining, 0);
	ASSERT_EQ(do_api_image_get(a, 1, &img, err, sizeof(err)), 0);
	ASSERT_EQ(srv.next, 2);
	ASSERT_TRUE(srv.when[1] - srv.when[0] >= 0.2);
	json_decref(img);
	do_api_free(a);
}

TEST(transfer_action)
{
	/* The spec's schema for the answer is the bare action; the API wraps it. */
	struct canned k[] = {{201, NULL, "{\"action\":{\"id\":36805527,\"status\":\"in-progress\",\"type\":\"transfer\"}}"},
			     {200, NULL, "{\"id\":36805527,\"status\":\"completed\",\"type\":\"transfer\"}"}};
	script(2, k);
	struct do_api *a = api();
	json_t *act = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_image_transfer(a, 7, "tor1", &act, err, sizeof(err)), 0);
	ASSERT_EQ(do_api_int(act, "id"), 36805527);
	json_decref(act);
	const char *body = strstr(srv.requests[0], "\r\n\r\n") + 4;
	ASSERT_STREQ(body, "{\"type\":\"transfer\",\"region\":\"tor1\"}");
	ASSERT_TRUE(!strncmp(srv.requests[0], "POST /v2/images/7/actions HTTP/1.1", 34));
	ASSERT_EQ(do_api_image_action_get(a, 7, 36805527, &act, err, sizeof(err)), 0);
	ASSERT_STREQ(do_api_str(act, "status"), "completed");
	json_decref(act);
	do_api_free(a);
}

#define DROPLET_JSON "{\"droplet\":{\"id\":3164444,\"name\":\"m\",\"status\":\"new\",\"networks\":{\"v4\":[],\"v6\":[]}}}"
#define RECORD_BODY "{\"type\":\"A\",\"name\":\"matrix\",\"data\":\"203.0.113.10\"}"

static struct do_droplet_new droplet_in(struct strv *keys, struct strv *tags)
{
	strv_push(keys, "289794");
	strv_push(keys, "3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45");
	strv_push(tags, "mkmesh");
	return (struct do_droplet_new){.name = "m", .region = "tor1", .size = "s-2vcpu-4gb",
				       .image_id = 7002, .ssh_keys = keys, .tags = tags,
				       .user_data = "#cloud-config\n", .ipv6 = true};
}

TEST(droplet_create_shape_and_not_replayed_after_5xx)
{
	struct canned k[] = {{500, NULL, "{\"id\":\"server_error\",\"message\":\"x\"}"},
			     {202, NULL, DROPLET_JSON}};
	script(2, k);
	struct do_api *a = api();
	struct strv keys = {0}, tags = {0};
	struct do_droplet_new in = droplet_in(&keys, &tags);
	json_t *d = NULL;
	char err[512] = "";
	/* The server may have made it: the caller looks before asking again. */
	ASSERT_EQ(do_api_droplet_create(a, &in, &d, err, sizeof(err)), -MK_ERR_HTTP);
	ASSERT_EQ(a->last_status, 500);
	ASSERT_EQ(srv.next, 1);
	const char *body = strstr(srv.requests[0], "\r\n\r\n") + 4;
	json_error_t je;
	json_t *j = json_loads(body, 0, &je);
	ASSERT_EQ(json_integer_value(json_object_get(j, "image")), 7002);
	ASSERT_TRUE(json_is_true(json_object_get(j, "ipv6")));
	ASSERT_EQ(json_integer_value(json_array_get(json_object_get(j, "ssh_keys"), 0)), 289794);
	ASSERT_STREQ(json_string_value(json_array_get(json_object_get(j, "ssh_keys"), 1)),
		     "3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45");
	ASSERT_STREQ(do_api_str(j, "user_data"), "#cloud-config\n");
	json_decref(j);
	strv_release(&keys);
	strv_release(&tags);
	do_api_free(a);
}

TEST(record_create_retried_after_429_only)
{
	struct canned k[] = {{429, "retry-after: 0\r\n", "{\"id\":\"too_many_requests\",\"message\":\"x\"}"},
			     {201, NULL, "{\"domain_record\":{\"id\":5,\"type\":\"A\",\"name\":\"matrix\",\"data\":\"203.0.113.10\"}}"}};
	script(2, k);
	struct do_api *a = api();
	json_t *rec = json_loads(RECORD_BODY, 0, NULL), *out = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_record_create(a, "example.org", rec, &out, err, sizeof(err)), 0);
	ASSERT_EQ(srv.next, 2);
	ASSERT_EQ(do_api_int(out, "id"), 5);
	json_decref(out);
	/* A dropped connection after sending: not sent again. */
	struct canned k2[] = {{0, NULL, NULL}, {201, NULL, "{}"}};
	script(2, k2);
	out = NULL;
	ASSERT_EQ(do_api_record_create(a, "example.org", rec, &out, err, sizeof(err)), -MK_ERR_NETWORK);
	ASSERT_EQ(srv.next, 1);
	json_decref(rec);
	do_api_free(a);
}

TEST(list_follows_pages_and_404)
{
	struct canned k[] = {
		{200, NULL, "{\"domain_records\":[{\"id\":1,\"type\":\"A\"},{\"id\":2,\"type\":\"A\"}],"
			    "\"links\":{\"pages\":{\"next\":\"https://api/x?page=2\"}},\"meta\":{\"total\":3}}"},
		{200, NULL, "{\"domain_records\":[{\"id\":3,\"type\":\"A\"}],\"links\":{\"pages\":{}},\"meta\":{\"total\":3}}"},
		{404, NULL, "{\"id\":\"not_found\",\"message\":\"The resource you were accessing could not be found.\"}"}};
	script(3, k);
	struct do_api *a = api();
	json_t *all = NULL;
	char err[512] = "";
	ASSERT_EQ(do_api_record_list(a, "example.org", "h.matrix.example.org", "AAAA", &all, err, sizeof(err)), 0);
	ASSERT_EQ(json_array_size(all), 3);
	ASSERT_EQ(srv.next, 2);
	ASSERT_TRUE(!strncmp(srv.requests[0],
			     "GET /v2/domains/example.org/records?name=h.matrix.example.org&type=AAAA&per_page=200&page=1 ", 91));
	ASSERT_TRUE(strstr(srv.requests[1], "&page=2 ") != NULL);
	json_decref(all);
	json_t *dom = NULL;
	ASSERT_EQ(do_api_domain_get(a, "example.org", &dom, err, sizeof(err)), -ENOENT);
	ASSERT_TRUE(strstr(err, "HTTP 404 not_found") != NULL);
	do_api_free(a);
}

TEST(droplet_address_public_only)
{
	json_t *d = json_loads("{\"networks\":{\"v4\":[{\"ip_address\":\"10.0.0.2\",\"type\":\"private\"},"
			       "{\"ip_address\":\"203.0.113.10\",\"type\":\"public\"}],\"v6\":[]}}", 0, NULL);
	ASSERT_STREQ(do_api_droplet_address(d, "v4"), "203.0.113.10");
	ASSERT_STREQ(do_api_droplet_address(d, "v6"), "");
	json_decref(d);
}

/* The one lookup deploy, destroy and upload share: the token from
 * DIGITALOCEAN_TOKEN or DIGITALOCEAN_ACCESS_TOKEN, the URL from
 * --api-url, MKMESH_DO_API_URL or the default. */
TEST(from_env_token_and_url)
{
	unsetenv("DIGITALOCEAN_TOKEN");
	unsetenv("DIGITALOCEAN_ACCESS_TOKEN");
	unsetenv("MKMESH_DO_API_URL");
	const char *url = NULL;
	ASSERT_TRUE(do_api_from_env(&url) == NULL);
	ASSERT_STREQ(url, DO_API_DEFAULT_URL);
	setenv("DIGITALOCEAN_ACCESS_TOKEN", "second", 1);
	setenv("MKMESH_DO_API_URL", "http://127.0.0.1:9", 1);
	url = NULL;
	ASSERT_STREQ(do_api_from_env(&url), "second");
	ASSERT_STREQ(url, "http://127.0.0.1:9");
	setenv("DIGITALOCEAN_TOKEN", "first", 1);
	url = "http://[::1]:8"; /* --api-url wins over the environment */
	ASSERT_STREQ(do_api_from_env(&url), "first");
	ASSERT_STREQ(url, "http://[::1]:8");
	setenv("DIGITALOCEAN_TOKEN", "", 1); /* empty is not set */
	ASSERT_STREQ(do_api_from_env(&url), "second");
	unsetenv("DIGITALOCEAN_TOKEN");
	unsetenv("DIGITALOCEAN_ACCESS_TOKEN");
	unsetenv("MKMESH_DO_API_URL");
}
