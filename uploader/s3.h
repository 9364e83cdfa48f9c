/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * S3-compatible object storage (DigitalOcean Spaces, AWS S3, s3rver):
 * AWS Signature Version 4 (our own, for presigned URLs and for the tests),
 * single and multipart uploads over libcurl, object delete.
 *
 * Library code: nothing here logs except through the optional callbacks;
 * errors are a negative errno or MK_ERR_* plus a message in the caller's
 * buffer.
 */
#ifndef MK_S3_H
#define MK_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct s3_config {
	char *endpoint;   /* scheme://host[:port], no trailing slash */
	char *region;     /* signing region, e.g. nyc3 */
	char *bucket;
	char *access_key;
	char *secret_key;
	bool virtual_host; /* https://bucket.host/key instead of https://host/bucket/key */
};

/* One SigV4 signing input, already canonical (sorted, encoded). */
struct s3_sigv4 {
	const char *method;
	const char *path;           /* canonical URI, already URI-encoded */
	const char *query;          /* canonical query string, "" when none */
	const char *headers;        /* canonical headers, "name:value\n" each, sorted */
	const char *signed_headers; /* "host;x-amz-date" */
	const char *payload_hash;   /* hex sha256 or UNSIGNED-PAYLOAD */
	const char *amz_date;       /* 20130524T000000Z */
	const char *region;
	const char *service;        /* s3 */
	const char *secret_key;
};

/* RFC 3986 encoding as SigV4 wants it; '/' is kept when keep_slash. */
char *s3_uri_encode(const char *s, bool keep_slash);
/* Format a time as SigV4's yyyymmddThhmmssZ. */
void s3_amz_date(time_t t, char out[17]);
/* The canonical request, the string to sign and the signature (64 hex). */
char *s3_sigv4_canonical_request(const struct s3_sigv4 *in);
char *s3_sigv4_string_to_sign(const struct s3_sigv4 *in);
void s3_sigv4_signature(const struct s3_sigv4 *in, char out[65]);

/* Host (with port when not the default) and the URL of bucket/key. */
char *s3_host(const struct s3_config *c);
char *s3_object_url(const struct s3_config *c, const char *key, const char *query);

/*
 * A presigned URL for METHOD on KEY, valid for EXPIRES seconds from NOW
 * (query-string SigV4, UNSIGNED-PAYLOAD, only host signed).
 */
char *s3_presign(const struct s3_config *c, const char *method, const char *key,
		 time_t now, unsigned expires);

/* Hide the signature and credential of a presigned URL, for messages. */
char *s3_redact_url(const char *url);

struct s3_upload_opts {
	uint64_t part_size;  /* 0: automatic */
	unsigned parallel;   /* parts in flight; 0: 4 */
	unsigned max_tries;  /* per request; 0: 6 */
	/* Progress, called with bytes acknowledged so far (may be NULL). */
	void (*progress)(void *userdata, uint64_t done, uint64_t total);
	/* Debug lines (redacted), may be NULL. */
	void (*debug)(void *userdata, const char *line);
	void *userdata;
};

/*
 * Upload a file to KEY. Files larger than a part go up as a multipart
 * upload with parts in parallel; a failed upload is aborted so that no
 * parts are left behind. Returns 0, -MK_ERR_AUTH, -MK_ERR_HTTP,
 * -MK_ERR_NETWORK, -MK_ERR_INTERRUPTED or a negative errno.
 */
int s3_upload_file(const struct s3_config *c, const char *key, const char *path,
		   const struct s3_upload_opts *opts, char *err, size_t errlen);

/* Delete an object (a missing object is not an error). */
int s3_delete_object(const struct s3_config *c, const char *key,
		     const struct s3_upload_opts *opts, char *err, size_t errlen);

/* Part size for a file: at least 16 MiB, at most 10000 parts. */
uint64_t s3_part_size(uint64_t file_size);

#endif
