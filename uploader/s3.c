/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * S3-compatible uploads. Requests are signed by libcurl (CURLOPT_AWS_SIGV4,
 * "aws:amz:<region>:s3"), with the workarounds libcurl 7.88 needs: we send
 * x-amz-content-sha256 ourselves and hand it a query string that is already
 * sorted and encoded ("?uploads=", not "?uploads"). Presigned URLs are ours:
 * libcurl cannot make them.
 */
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../builder/util.h"
#include "http.h"
#include "s3.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define MIN_PART (16ULL << 20)
#define MAX_PARTS 10000ULL

char *s3_uri_encode(const char *s, bool keep_slash)
{
	static const char hexd[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		unsigned char c = *p;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && keep_slash)) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hexd[c >> 4];
			*o++ = hexd[c & 15];
		}
	}
	*o = '\0';
	return out;
}

void s3_amz_date(time_t t, char out[17])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

char *s3_sigv4_canonical_request(const struct s3_sigv4 *in)
{
	return xasprintf("%s\n%s\n%s\n%s\n%s\n%s", in->method, in->path, in->query, in->headers,
			 in->signed_headers, in->payload_hash);
}

char *s3_sigv4_string_to_sign(const struct s3_sigv4 *in)
{
	_cleanup_free_ char *creq = s3_sigv4_canonical_request(in);
	char hash[65];
	mk_sha256_hex(creq, strlen(creq), hash);
	return xasprintf("AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", in->amz_date,
			 in->amz_date, in->region, in->service, hash);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
	unsigned len = 32;
	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

void s3_sigv4_signature(const struct s3_sigv4 *in, char out[65])
{
	unsigned char k[32];
	char date[9];
	_cleanup_free_ char *secret = xasprintf("AWS4%s", in->secret_key);
	_cleanup_free_ char *sts = s3_sigv4_string_to_sign(in);

	snprintf(date, sizeof(date), "%.8s", in->amz_date);
	hmac(secret, strlen(secret), date, k);
	hmac(k, 32, in->region, k);
	hmac(k, 32, in->service, k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, k);
	mk_hex(k, 32, out);
	explicit_bzero(secret, strlen(secret));
}

/* Split the endpoint into scheme ("https") and authority ("host[:port]"). */
static void split_endpoint(const char *endpoint, char **scheme, char **authority)
{
	const char *sep = strstr(endpoint, "://");
	const char *a = sep ? sep + 3 : endpoint;
	*scheme = sep ? xasprintf("%.*s", (int)(sep - endpoint), endpoint) : xstrdup("https");
	size_t n = strcspn(a, "/");
	*authority = xasprintf("%.*s", (int)n, a);
	/* The default port is not part of the Host header. */
	char *colon = strrchr(*authority, ':');
	if (colon && ((!strcmp(*scheme, "https") && !strcmp(colon, ":443")) ||
		      (!strcmp(*scheme, "http") && !strcmp(colon, ":80"))))
		*colon = '\0';
}

char *s3_host(const struct s3_config *c)
{
	_cleanup_free_ char *scheme = NULL, *auth = NULL;
	split_endpoint(c->endpoint, &scheme, &auth);
	if (c->virtual_host)
		return xasprintf("%s.%s", c->bucket, auth);
	return TAKE_PTR(auth);
}

/* The canonical (encoded) path of an object. */
static char *object_path(const struct s3_config *c, const char *key)
{
	_cleanup_free_ char *k = s3_uri_encode(key, true);
	if (c->virtual_host)
		return xasprintf("/%s", k);
	_cleanup_free_ char *b = s3_uri_encode(c->bucket, false);
	return xasprintf("/%s/%s", b, k);
}

char *s3_object_url(const struct s3_config *c, const char *key, const char *query)
{
	_cleanup_free_ char *scheme = NULL, *auth = NULL;
	split_endpoint(c->endpoint, &scheme, &auth);
	_cleanup_free_ char *host = s3_host(c);
	_cleanup_free_ char *path = object_path(c, key);
	return xasprintf("%s://%s%s%s%s", scheme, host, path, query && *query ? "?" : "",
			 query ? query : "");
}

char *s3_presign(const struct s3_config *c, const char *method, const char *key, time_t now,
		 unsigned expires)
{
	char amz_date[17], sig[65];
	s3_amz_date(now, amz_date);
	_cleanup_free_ char *cred = xasprintf("%s/%.8s/%s/s3/aws4_request", c->access_key, amz_date,
					      c->region);
	_cleanup_free_ char *ecred = s3_uri_encode(cred, false);
	_cleanup_free_ char *query = xasprintf("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%s"
					       "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
					       ecred, amz_date, expires);
	_cleanup_free_ char *host = s3_host(c);
	_cleanup_free_ char *hosthdr = xasprintf("host:%s\n", host);
	_cleanup_free_ char *path = object_path(c, key);
	struct s3_sigv4 in = {
		.method = method,
		.path = path,
		.query = query,
		.headers = hosthdr,
		.signed_headers = "host",
		.payload_hash = "UNSIGNED-PAYLOAD",
		.amz_date = amz_date,
		.region = c->region,
		.service = "s3",
		.secret_key = c->secret_key,
	};
	s3_sigv4_signature(&in, sig);
	_cleanup_free_ char *full = xasprintf("%s&X-Amz-Signature=%s", query, sig);
	return s3_object_url(c, key, full);
}

char *s3_redact_url(const char *url)
{
	char *out = xstrdup(url);
	static const char *const params[] = {"X-Amz-Signature=", "X-Amz-Credential=",
					     "Signature=", "AWSAccessKeyId="};
	for (size_t i = 0; i < ELEMENTSOF(params); i++) {
		char *p = out;
		while ((p = strstr(p, params[i]))) {
			if (p != out && p[-1] != '?' && p[-1] != '&') {
				p++;
				continue;
			}
			char *v = p + strlen(params[i]);
			size_t n = strcspn(v, "&#");
			char *tail = xstrdup(v + n);
			char *nout = xasprintf("%.*sREDACTED%s", (int)(v - out), out, tail);
			p = nout + (v - out) + 8;
			free(tail);
			free(out);
			out = nout;
		}
	}
	return out;
}

uint64_t s3_part_size(uint64_t size)
{
	uint64_t ps = (size + MAX_PARTS - 1) / MAX_PARTS;
	ps = (ps + (1 << 20) - 1) & ~((uint64_t)(1 << 20) - 1);
	return ps < MIN_PART ? MIN_PART : ps;
}

/* ---- requests ---- */

struct s3_ctx {
	const struct s3_config *c;
	const struct s3_upload_opts *o;
	char sigv4[128];
	char *userpwd;
};

static void ctx_init(struct s3_ctx *x, const struct s3_config *c, const struct s3_upload_opts *o)
{
	x->c = c;
	x->o = o;
	snprintf(x->sigv4, sizeof(x->sigv4), "aws:amz:%s:s3", c->region);
	x->userpwd = xasprintf("%s:%s", c->access_key, c->secret_key);
}

static void ctx_release(struct s3_ctx *x)
{
	if (x->userpwd) {
		explicit_bzero(x->userpwd, strlen(x->userpwd));
		free(x->userpwd);
	}
}

/* The text between <TAG> and </TAG> in an XML answer, or NULL. */
static char *xml_value(const char *xml, const char *tag)
{
	if (!xml)
		return NULL;
	_cleanup_free_ char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *a = strstr(xml, open);
	if (!a)
		return NULL;
	a += strlen(open);
	const char *b = strstr(a, close);
	if (!b)
		return NULL;
	return xasprintf("%.*s", (int)(b - a), a);
}

/* Turn an S3 error answer into a message and an error code. */
static int s3_error(const char *what, long status, const char *body, char *err, size_t errlen)
{
	_cleanup_free_ char *code = xml_value(body, "Code");
	_cleanup_free_ char *msg = xml_value(body, "Message");
	snprintf(err, errlen, "%s: HTTP %ld%s%s%s%s", what, status, code ? " " : "",
		 code ? code : "", msg ? ": " : "", msg ? msg : "");
	if (status == 401 || status == 403 ||
	    (code && (!strcmp(code, "SignatureDoesNotMatch") || !strcmp(code, "InvalidAccessKeyId") ||
		      !strcmp(code, "AccessDenied"))))
		return -MK_ERR_AUTH;
	return -MK_ERR_HTTP;
}

static int s3_request(struct s3_ctx *x, const char *method, const char *key, const char *query,
		      const void *body, size_t len, bool ignore_abort, struct http_response *resp,
		      char *err, size_t errlen)
{
	char hash[65], hdr[96];
	if (body && len)
		mk_sha256_hex(body, len, hash);
	else
		snprintf(hash, sizeof(hash), "%s", EMPTY_SHA256);
	snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", hash);
	struct curl_slist *h = curl_slist_append(NULL, hdr);
	/*
	 * Not "Expect:" to skip the 100-continue round trip: libcurl 7.88 signs
	 * the header it then leaves out, and the server refuses the signature.
	 * No form content type either.
	 */
	if (!strcmp(method, "POST"))
		h = curl_slist_append(h, "Content-Type: application/xml");
	_cleanup_free_ char *url = s3_object_url(x->c, key, query);
	struct http_request req = {
		.method = method,
		.url = url,
		.headers = h,
		.body = body,
		.body_len = len,
		.aws_sigv4 = x->sigv4,
		.userpwd = x->userpwd,
		.ignore_abort = ignore_abort,
		.max_tries = x->o ? x->o->max_tries : 0,
		.debug = x->o ? x->o->debug : NULL,
		.userdata = x->o ? x->o->userdata : NULL,
	};
	int r = http_perform(&req, resp, err, errlen);
	curl_slist_free_all(h);
	return r;
}

int s3_delete_object(const struct s3_config *c, const char *key, const struct s3_upload_opts *o,
		     char *err, size_t errlen)
{
	struct s3_ctx x = {0};
	struct http_response resp = {0};
	ctx_init(&x, c, o);
	int r = s3_request(&x, "DELETE", key, NULL, NULL, 0, true, &resp, err, errlen);
	if (r == 0 && resp.status != 204 && resp.status != 200 && resp.status != 404) {
		_cleanup_free_ char *what = xasprintf("deleting '%s/%s'", c->bucket, key);
		r = s3_error(what, resp.status, resp.body, err, errlen);
	}
	http_response_release(&resp);
	ctx_release(&x);
	return r;
}

static int put_single(struct s3_ctx *x, const char *key, int fd, uint64_t size, char *err,
		      size_t errlen)
{
	_cleanup_free_ char *buf = xmalloc(size ? size : 1);
	ssize_t n = pread(fd, buf, size, 0);
	if (n < 0 || (uint64_t)n != size) {
		snprintf(err, errlen, "reading: %s", n < 0 ? strerror(errno) : "file shrank");
		return n < 0 ? -errno : -EIO;
	}
	struct http_response resp = {0};
	int r = s3_request(x, "PUT", key, NULL, buf, size, false, &resp, err, errlen);
	if (r == 0 && resp.status != 200) {
		_cleanup_free_ char *what = xasprintf("uploading to '%s/%s'", x->c->bucket, key);
		r = s3_error(what, resp.status, resp.body, err, errlen);
	}
	if (r == 0 && x->o && x->o->progress)
		x->o->progress(x->o->userdata, size, size);
	http_response_release(&resp);
	return r;
}

/* ---- multipart ---- */

enum part_state { PART_WAIT, PART_RUN, PART_DONE };

struct part {
	unsigned num;
	uint64_t off, len;
	enum part_state state;
	unsigned tries;
	double not_before;
	char *buf;
	size_t rpos;
	curl_off_t sent;
	char etag[256];
	CURL *h;
	struct curl_slist *hdrs;
	struct http_response resp;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t part_read(char *buf, size_t size, size_t n, void *data)
{
	struct part *p = data;
	size_t len = size * n, left = p->len - p->rpos;
	if (len > left)
		len = left;
	memcpy(buf, p->buf + p->rpos, len);
	p->rpos += len;
	return len;
}

static int part_seek(void *data, curl_off_t off, int origin)
{
	struct part *p = data;
	if (origin != SEEK_SET || off < 0 || (uint64_t)off > p->len)
		return CURL_SEEKFUNC_FAIL;
	p->rpos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static int part_xferinfo(void *data, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut;
	struct part *p = data;
	p->sent = un;
	return http_abort ? 1 : 0;
}

static int part_start(struct s3_ctx *x, CURLM *m, struct part *p, int fd, const char *key,
		      const char *upload_id, char *err, size_t errlen)
{
	if (!p->buf) {
		p->buf = xmalloc(p->len);
		ssize_t n = pread(fd, p->buf, p->len, (off_t)p->off);
		if (n < 0 || (uint64_t)n != p->len) {
			snprintf(err, errlen, "reading part %u: %s", p->num,
				 n < 0 ? strerror(errno) : "file shrank");
			return n < 0 ? -errno : -EIO;
		}
	}
	char hash[65], hdr[96];
	mk_sha256_hex(p->buf, p->len, hash);
	snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", hash);
	p->hdrs = curl_slist_append(NULL, hdr);
	_cleanup_free_ char *eid = s3_uri_encode(upload_id, false);
	_cleanup_free_ char *query = xasprintf("partNumber=%u&uploadId=%s", p->num, eid);
	_cleanup_free_ char *url = s3_object_url(x->c, key, query);

	http_response_release(&p->resp);
	p->rpos = 0;
	p->sent = 0;
	p->h = curl_easy_init();
	if (!p->h)
		abort();
	http_easy_defaults(p->h, p->errbuf, false);
	curl_easy_setopt(p->h, CURLOPT_URL, url);
	curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hdrs);
	curl_easy_setopt(p->h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(p->h, CURLOPT_READFUNCTION, part_read);
	curl_easy_setopt(p->h, CURLOPT_READDATA, p);
	curl_easy_setopt(p->h, CURLOPT_SEEKFUNCTION, part_seek);
	curl_easy_setopt(p->h, CURLOPT_SEEKDATA, p);
	curl_easy_setopt(p->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)p->len);
	curl_easy_setopt(p->h, CURLOPT_XFERINFOFUNCTION, part_xferinfo);
	curl_easy_setopt(p->h, CURLOPT_XFERINFODATA, p);
	curl_easy_setopt(p->h, CURLOPT_HEADERFUNCTION, http_header_cb);
	curl_easy_setopt(p->h, CURLOPT_HEADERDATA, &p->resp);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, http_body_cb);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->resp);
	curl_easy_setopt(p->h, CURLOPT_AWS_SIGV4, x->sigv4);
	curl_easy_setopt(p->h, CURLOPT_USERPWD, x->userpwd);
	curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
	p->tries++;
	p->state = PART_RUN;
	if (x->o && x->o->debug) {
		_cleanup_free_ char *line = xasprintf("> PUT part %u (%llu bytes, try %u)", p->num,
						      (unsigned long long)p->len, p->tries);
		x->o->debug(x->o->userdata, line);
	}
	curl_multi_add_handle(m, p->h);
	return 0;
}

static void part_stop(CURLM *m, struct part *p)
{
	if (p->h) {
		curl_multi_remove_handle(m, p->h);
		curl_easy_cleanup(p->h);
		p->h = NULL;
	}
	curl_slist_free_all(p->hdrs);
	p->hdrs = NULL;
}

static void part_free_buf(struct part *p)
{
	free(p->buf);
	p->buf = NULL;
}

static int upload_parts(struct s3_ctx *x, const char *key, const char *upload_id, int fd,
			struct part *parts, unsigned nparts, uint64_t size, char *err, size_t errlen)
{
	unsigned parallel = x->o && x->o->parallel ? x->o->parallel : 4;
	unsigned max_tries = x->o && x->o->max_tries ? x->o->max_tries : 6;
	/* running: parts on the wire; waiting: retries whose wait is not over.
	 * Both count against `parallel`, and a waiting part gives its buffer
	 * back (it is read again when it starts): at most `parallel` parts are
	 * in memory, and a server that asks for patience (503 with a long
	 * Retry-After) is not sent new parts meanwhile. */
	unsigned done = 0, running = 0, waiting = 0, next = 0;
	uint64_t bytes_done = 0;
	int r = 0;
	CURLM *m = curl_multi_init();
	if (!m)
		abort();
	curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)parallel);

	while (done < nparts && r == 0) {
		double now = mk_now();
		/* Start parts: retries whose wait is over first, then new ones. */
		for (unsigned i = 0; i < nparts && running < parallel && r == 0; i++) {
			struct part *p = &parts[i];
			if (p->state != PART_WAIT || (p->tries == 0 && i != next) || p->not_before > now)
				continue;
			if (p->tries == 0) {
				if (running + waiting >= parallel)
					continue;
				next++;
			} else {
				waiting--;
			}
			r = part_start(x, m, p, fd, key, upload_id, err, errlen);
			running++;
		}
		if (r)
			break;
		int still;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct part *p;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&p);
			CURLcode rc = msg->data.result;
			long status = 0;
			if (rc == CURLE_OK)
				curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &status);
			part_stop(m, p);
			running--;
			if (rc == CURLE_ABORTED_BY_CALLBACK || http_abort) {
				snprintf(err, errlen, "interrupted");
				r = -MK_ERR_INTERRUPTED;
				break;
			}
			if (rc == CURLE_OK && status == 200 && p->resp.etag[0]) {
				snprintf(p->etag, sizeof(p->etag), "%s", p->resp.etag);
				p->state = PART_DONE;
				part_free_buf(p);
				bytes_done += p->len;
				done++;
				if (x->o && x->o->debug) {
					_cleanup_free_ char *line = xasprintf("< part %u: 200", p->num);
					x->o->debug(x->o->userdata, line);
				}
				continue;
			}
			bool retry = rc != CURLE_OK ? http_retryable_curl(rc)
						    : http_retryable_status(status);
			const char *why = rc != CURLE_OK ? http_curl_error(rc, p->errbuf) : NULL;
			if (retry && p->tries < max_tries) {
				double wait = http_backoff(p->tries, rc == CURLE_OK ? p->resp.retry_after : NULL);
				p->state = PART_WAIT;
				p->not_before = mk_now() + wait;
				part_free_buf(p);
				waiting++;
				if (x->o && x->o->debug) {
					_cleanup_free_ char *line = why
						? xasprintf("< part %u: %s; retrying in %.1f s", p->num, why, wait)
						: xasprintf("< part %u: HTTP %ld; retrying in %.1f s", p->num, status, wait);
					x->o->debug(x->o->userdata, line);
				}
				continue;
			}
			_cleanup_free_ char *what = xasprintf("uploading part %u of '%s/%s'", p->num,
							      x->c->bucket, key);
			if (rc != CURLE_OK) {
				snprintf(err, errlen, "%s: %s%s", what, why,
					 retry ? " (gave up after retries)" : "");
				r = -MK_ERR_NETWORK;
			} else if (status == 200) {
				snprintf(err, errlen, "%s: the server sent no ETag", what);
				r = -MK_ERR_HTTP;
			} else {
				r = s3_error(what, status, p->resp.body, err, errlen);
			}
		}
		if (r)
			break;
		if (http_abort) {
			snprintf(err, errlen, "interrupted");
			r = -MK_ERR_INTERRUPTED;
			break;
		}
		if (x->o && x->o->progress) {
			uint64_t inflight = 0;
			for (unsigned i = 0; i < nparts; i++)
				if (parts[i].state == PART_RUN)
					inflight += (uint64_t)parts[i].sent;
			x->o->progress(x->o->userdata, bytes_done + inflight, size);
		}
		if (done < nparts)
			curl_multi_poll(m, NULL, 0, running ? 100 : 20, NULL);
	}
	for (unsigned i = 0; i < nparts; i++) {
		part_stop(m, &parts[i]);
		part_free_buf(&parts[i]);
		http_response_release(&parts[i].resp);
	}
	curl_multi_cleanup(m);
	return r;
}

static int multipart(struct s3_ctx *x, const char *key, int fd, uint64_t size, uint64_t part_size,
		     char *err, size_t errlen)
{
	struct http_response resp = {0};
	_cleanup_free_ char *what = xasprintf("starting a multipart upload to '%s/%s'", x->c->bucket, key);
	int r = s3_request(x, "POST", key, "uploads=", NULL, 0, false, &resp, err, errlen);
	if (r == 0 && resp.status != 200)
		r = s3_error(what, resp.status, resp.body, err, errlen);
	_cleanup_free_ char *upload_id = r == 0 ? xml_value(resp.body, "UploadId") : NULL;
	if (r == 0 && !upload_id) {
		snprintf(err, errlen, "%s: the answer has no UploadId", what);
		r = -MK_ERR_HTTP;
	}
	http_response_release(&resp);
	if (r)
		return r;

	unsigned nparts = (unsigned)((size + part_size - 1) / part_size);
	_cleanup_free_ struct part *parts = xcalloc(nparts, sizeof(*parts));
	for (unsigned i = 0; i < nparts; i++) {
		parts[i].num = i + 1;
		parts[i].off = i * part_size;
		parts[i].len = i + 1 < nparts ? part_size : size - i * part_size;
		parts[i].resp = (struct http_response){.ratelimit_remaining = -1, .ratelimit_reset = -1};
	}
	r = upload_parts(x, key, upload_id, fd, parts, nparts, size, err, errlen);

	_cleanup_free_ char *eid = s3_uri_encode(upload_id, false);
	_cleanup_free_ char *query = xasprintf("uploadId=%s", eid);
	if (r == 0) {
		size_t cap = 64 + (size_t)nparts * 340, n = 0;
		_cleanup_free_ char *xml = xmalloc(cap);
		n += snprintf(xml + n, cap - n, "<CompleteMultipartUpload>");
		for (unsigned i = 0; i < nparts; i++)
			n += snprintf(xml + n, cap - n,
				      "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
				      parts[i].num, parts[i].etag);
		n += snprintf(xml + n, cap - n, "</CompleteMultipartUpload>");
		free(what);
		what = xasprintf("completing the multipart upload to '%s/%s'", x->c->bucket, key);
		r = s3_request(x, "POST", key, query, xml, n, false, &resp, err, errlen);
		/* S3 may answer 200 and put an error in the body. */
		if (r == 0 && (resp.status != 200 || (resp.body && strstr(resp.body, "<Error>"))))
			r = s3_error(what, resp.status, resp.body, err, errlen);
		http_response_release(&resp);
	}
	if (r) {
		/* Abort so that no parts are left (and billed) in the bucket. */
		char aerr[512];
		int a = s3_request(x, "DELETE", key, query, NULL, 0, true, &resp, aerr, sizeof(aerr));
		if (x->o && x->o->debug) {
			_cleanup_free_ char *line = a ? xasprintf("aborting the multipart upload failed: %s", aerr)
						       : xasprintf("aborted the multipart upload (HTTP %ld)", resp.status);
			x->o->debug(x->o->userdata, line);
		}
		http_response_release(&resp);
	}
	return r;
}

int s3_upload_file(const struct s3_config *c, const char *key, const char *path,
		   const struct s3_upload_opts *o, char *err, size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "opening '%s': %s", path, strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "'%s': %s", path, strerror(errno));
		return -errno;
	}
	uint64_t size = (uint64_t)st.st_size;
	uint64_t ps = o && o->part_size ? o->part_size : s3_part_size(size);
	struct s3_ctx x = {0};
	ctx_init(&x, c, o);
	int r = size <= ps ? put_single(&x, key, fd, size, err, errlen)
			   : multipart(&x, key, fd, size, ps, err, errlen);
	ctx_release(&x);
	return r;
}
