/* SPDX-License-Identifier: GPL-3.0-or-later */
/* HTTP requests with retries and backoff, shared by s3.c and do_api.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../builder/util.h"
#include "http.h"

#ifndef MKMESH_VERSION
#define MKMESH_VERSION "unknown"
#endif

volatile sig_atomic_t http_abort;

static const int caught[3] = {SIGINT, SIGTERM, SIGHUP};

static void on_interrupt(int sig)
{
	mk_interrupted = sig;
	http_abort = 1;
}

void http_catch_signals(struct sigaction old[3])
{
	/* SA_RESETHAND: a second Ctrl-C during clean-up ends the program. */
	struct sigaction sa = {.sa_handler = on_interrupt, .sa_flags = SA_RESETHAND};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < 3; i++)
		sigaction(caught[i], &sa, &old[i]);
}

void http_restore_signals(const struct sigaction old[3])
{
	for (size_t i = 0; i < 3; i++)
		sigaction(caught[i], &old[i], NULL);
}

void http_response_release(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	*r = (struct http_response){.ratelimit_remaining = -1, .ratelimit_reset = -1};
}

bool http_retryable_status(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599 && status != 501);
}

bool http_retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_WEIRD_SERVER_REPLY:
		return true;
	default:
		return false;
	}
}

bool http_unsent_curl(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
}

double http_parse_retry_after(const char *value, time_t now)
{
	if (!value || !*value)
		return -1;
	char *end;
	errno = 0;
	long s = strtol(value, &end, 10);
	if (!errno && end != value && *end == '\0' && s >= 0)
		return (double)s;
	time_t t = curl_getdate(value, NULL);
	if (t < 0)
		return -1;
	return t > now ? (double)(t - now) : 0;
}

double http_backoff(unsigned attempt, const char *retry_after)
{
	double ra = http_parse_retry_after(retry_after, time(NULL));
	if (ra >= 0)
		return ra > 600 ? 600 : ra;
	double d = mk_env_seconds("MKMESH_RETRY_BASE_SECONDS", 0.5);
	for (unsigned i = 1; i < attempt && d < 30; i++)
		d *= 2;
	if (d > 30)
		d = 30;
	/* Jitter in [d/2, d] so that parallel parts do not retry in lockstep. */
	return d / 2 + d / 2 * ((double)rand() / RAND_MAX);
}

int http_sleep(double seconds, bool ignore_abort)
{
	double end = mk_now() + seconds;
	for (;;) {
		if (http_abort && !ignore_abort)
			return -MK_ERR_INTERRUPTED;
		double left = end - mk_now();
		if (left <= 0)
			return 0;
		if (left > 0.1)
			left = 0.1;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(left * 1e9)};
		nanosleep(&ts, NULL);
	}
}

static int xferinfo_abort(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)p, (void)dt, (void)dn, (void)ut, (void)un;
	return http_abort ? 1 : 0;
}

void http_easy_defaults(CURL *h, char *errbuf, bool ignore_abort)
{
	long stall = (long)mk_env_seconds("MKMESH_HTTP_STALL_SECONDS", 60);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "mkmesh/" MKMESH_VERSION);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, stall);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/*
	 * HTTP/1.1: parallel parts then get a TCP connection each, which is what
	 * makes them faster than one stream on a long link (HTTP/2 would put them
	 * all on one connection).
	 */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	if (!ignore_abort) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_abort);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	errbuf[0] = '\0';
}

static void copy_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	while (n && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

size_t http_header_cb(char *buf, size_t size, size_t n, void *data)
{
	struct http_response *r = data;
	size_t len = size * n;
	char val[256];
	const char *colon = memchr(buf, ':', len);
	if (!strncmp(buf, "HTTP/", 5)) {
		/* A new response (after a 100 Continue or a redirect): start over. */
		r->retry_after[0] = r->etag[0] = '\0';
		r->ratelimit_remaining = r->ratelimit_reset = -1;
		return len;
	}
	if (!colon)
		return len;
	size_t nl = colon - buf;
	copy_value(val, sizeof(val), colon + 1, len - nl - 1);
	if (nl == 11 && !strncasecmp(buf, "retry-after", nl))
		copy_value(r->retry_after, sizeof(r->retry_after), colon + 1, len - nl - 1);
	else if (nl == 4 && !strncasecmp(buf, "etag", nl))
		copy_value(r->etag, sizeof(r->etag), colon + 1, len - nl - 1);
	else if (nl == 19 && !strncasecmp(buf, "ratelimit-remaining", nl))
		r->ratelimit_remaining = atol(val);
	else if (nl == 15 && !strncasecmp(buf, "ratelimit-reset", nl))
		r->ratelimit_reset = atol(val);
	return len;
}

size_t http_body_cb(char *buf, size_t size, size_t n, void *data)
{
	struct http_response *r = data;
	size_t len = size * n;
	if (r->len + len > 16 * 1024 * 1024)
		return 0; /* no API answer is this large */
	r->body = xrealloc(r->body, r->len + len + 1);
	memcpy(r->body + r->len, buf, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

const char *http_curl_error(CURLcode rc, const char *errbuf)
{
	return errbuf && *errbuf ? errbuf : curl_easy_strerror(rc);
}

struct body_reader {
	const char *p;
	size_t left;
};

static size_t read_cb(char *buf, size_t size, size_t n, void *data)
{
	struct body_reader *b = data;
	size_t len = size * n;
	if (len > b->left)
		len = b->left;
	memcpy(buf, b->p, len);
	b->p += len;
	b->left -= len;
	return len;
}

static void debug_line(const struct http_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void debug_line(const struct http_request *req, const char *fmt, ...)
{
	if (!req->debug)
		return;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) >= 0) {
		req->debug(req->userdata, s);
		free(s);
	}
	va_end(ap);
}

/* The URL without its query string, for messages: a query may carry a signature. */
static char *url_for_log(const char *url)
{
	const char *q = strchr(url, '?');
	if (!q)
		return xstrdup(url);
	const char *sig = strstr(q, "X-Amz-Signature");
	if (sig)
		return xasprintf("%.*s?<presigned, redacted>", (int)(q - url), url);
	return xstrdup(url);
}

int http_perform(const struct http_request *req, struct http_response *resp, char *err,
		 size_t errlen)
{
	unsigned max_tries = req->max_tries ? req->max_tries : 6;
	_cleanup_free_ char *logurl = url_for_log(req->url);
	char errbuf[CURL_ERROR_SIZE];

	*resp = (struct http_response){.ratelimit_remaining = -1, .ratelimit_reset = -1};
	for (unsigned attempt = 1;; attempt++) {
		if (http_abort && !req->ignore_abort) {
			snprintf(err, errlen, "interrupted");
			return -MK_ERR_INTERRUPTED;
		}
		CURL *h = curl_easy_init();
		if (!h)
			abort();
		http_response_release(resp);
		struct body_reader br = {req->body, req->body_len};
		http_easy_defaults(h, errbuf, req->ignore_abort);
		curl_easy_setopt(h, CURLOPT_URL, req->url);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, req->headers);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, resp);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_body_cb);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
		if (!strcmp(req->method, "POST")) {
			curl_easy_setopt(h, CURLOPT_POST, 1L);
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		} else if (!strcmp(req->method, "PUT")) {
			curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(h, CURLOPT_READDATA, &br);
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		} else if (!strcmp(req->method, "HEAD")) {
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		} else if (strcmp(req->method, "GET")) {
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
		}
		if (req->aws_sigv4) {
			curl_easy_setopt(h, CURLOPT_AWS_SIGV4, req->aws_sigv4);
			curl_easy_setopt(h, CURLOPT_USERPWD, req->userpwd);
		}
		debug_line(req, "> %s %s", req->method, logurl);
		CURLcode rc = curl_easy_perform(h);
		if (rc == CURLE_OK)
			curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
		curl_easy_cleanup(h);

		if (rc == CURLE_ABORTED_BY_CALLBACK) {
			snprintf(err, errlen, "interrupted");
			return -MK_ERR_INTERRUPTED;
		}
		bool retry;
		if (rc != CURLE_OK) {
			debug_line(req, "< %s %s: %s", req->method, logurl, http_curl_error(rc, errbuf));
			retry = req->not_replayable ? http_unsent_curl(rc) : http_retryable_curl(rc);
			if (!retry || attempt >= max_tries) {
				snprintf(err, errlen, "%s %s: %s%s", req->method, logurl,
					 http_curl_error(rc, errbuf),
					 retry ? " (gave up after retries)" : "");
				return -MK_ERR_NETWORK;
			}
		} else {
			debug_line(req, "< %ld (%zu bytes)", resp->status, resp->len);
			retry = req->not_replayable ? resp->status == 429
						    : http_retryable_status(resp->status);
			if (!retry || attempt >= max_tries)
				return 0;
		}
		double wait = http_backoff(attempt, rc == CURLE_OK ? resp->retry_after : NULL);
		if (rc == CURLE_OK && resp->status == 429 && req->notice) {
			_cleanup_free_ char *line = xasprintf("rate limited (HTTP 429); retrying in %.0f s", wait);
			req->notice(req->userdata, line);
		}
		debug_line(req, "  retrying in %.1f s (try %u of %u)", wait, attempt + 1, max_tries);
		if (http_sleep(wait, req->ignore_abort) < 0) {
			snprintf(err, errlen, "interrupted");
			return -MK_ERR_INTERRUPTED;
		}
	}
}
