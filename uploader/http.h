/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * HTTP plumbing shared by the S3 and DigitalOcean clients: one request with
 * retries (timeouts, resets, 5xx, 429 with retry-after), backoff with
 * jitter, and an abort flag that a signal handler may set.
 */
#ifndef MK_HTTP_H
#define MK_HTTP_H

#include <curl/curl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Set (from a signal handler) to stop transfers and waits soon. */
extern volatile sig_atomic_t http_abort;

/* Ctrl-C (SIGINT, SIGTERM, SIGHUP) sets http_abort and mk_interrupted, so
 * transfers stop and the command cleans up normally; a second one ends the
 * program. OLD keeps the handlers to put back. */
void http_catch_signals(struct sigaction old[3]);
void http_restore_signals(const struct sigaction old[3]);

struct http_response {
	long status;
	char *body;
	size_t len;
	char retry_after[64];
	char etag[256];
	long ratelimit_remaining; /* -1: not sent */
	long ratelimit_reset;     /* epoch seconds, -1: not sent */
};
void http_response_release(struct http_response *r);

struct http_request {
	const char *method;        /* GET, PUT, POST, DELETE */
	const char *url;
	struct curl_slist *headers;
	const void *body;          /* request body (may be NULL) */
	size_t body_len;
	const char *aws_sigv4;     /* CURLOPT_AWS_SIGV4, with userpwd */
	const char *userpwd;
	bool ignore_abort;         /* clean-up requests run even after Ctrl-C */
	/*
	 * Not to be repeated once the server may have acted on it (a POST that
	 * creates something): retried only after a 429 or when no connection
	 * was made; a 5xx or a lost answer is returned to the caller, who can
	 * look whether the thing exists before asking again.
	 */
	bool not_replayable;
	unsigned max_tries;        /* 0: 6 */
	void (*debug)(void *userdata, const char *line);
	void (*notice)(void *userdata, const char *line); /* waits a user should know of */
	void *userdata;
};

/*
 * Perform REQ, retrying what may succeed later. Returns 0 when a response
 * was received (check resp->status; the last one after retries), or
 * -MK_ERR_NETWORK / -MK_ERR_INTERRUPTED with a message in err.
 */
int http_perform(const struct http_request *req, struct http_response *resp, char *err,
		 size_t errlen);

bool http_retryable_status(long status);
bool http_retryable_curl(CURLcode rc);
/* The request surely did not reach the server (safe to send again). */
bool http_unsent_curl(CURLcode rc);
/* Seconds to wait before try number ATTEMPT+1 (attempt counts from 1). */
double http_backoff(unsigned attempt, const char *retry_after);
/* Parse retry-after (delta seconds or an HTTP date); -1 when absent/bad. */
double http_parse_retry_after(const char *value, time_t now);
/* Sleep, returning -MK_ERR_INTERRUPTED early when http_abort is set. */
int http_sleep(double seconds, bool ignore_abort);

/* Options every handle gets: timeouts, user agent, abort callback, errbuf. */
void http_easy_defaults(CURL *h, char *errbuf, bool ignore_abort);
/* Header callback filling RESP (CURLOPT_HEADERFUNCTION, data = resp). */
size_t http_header_cb(char *buf, size_t size, size_t n, void *resp);
/* Body callback appending to RESP->body (CURLOPT_WRITEFUNCTION). */
size_t http_body_cb(char *buf, size_t size, size_t n, void *resp);

/* Short status text for messages, e.g. "HTTP 503". */
const char *http_curl_error(CURLcode rc, const char *errbuf);

#endif
