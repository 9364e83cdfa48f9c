/* SPDX-License-Identifier: GPL-3.0-or-later */
/* SigV4 against AWS's published examples, URL building, redaction, retry policy. */
#include <string.h>
#include <time.h>

#include "tests.h"
#include "http.h"
#include "s3.h"
#include "util.h"

#define AWS_KEY "AKIAIOSFODNN7EXAMPLE"
#define AWS_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static time_t t_20130524(void)
{
	struct tm tm = {.tm_year = 113, .tm_mon = 4, .tm_mday = 24};
	return timegm(&tm);
}

static struct s3_config aws_example(void)
{
	return (struct s3_config){
		.endpoint = (char *)"https://s3.amazonaws.com",
		.region = (char *)"us-east-1",
		.bucket = (char *)"examplebucket",
		.access_key = (char *)AWS_KEY,
		.secret_key = (char *)AWS_SECRET,
		.virtual_host = true,
	};
}

/* docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html */
TEST(presign_aws_example)
{
	struct s3_config c = aws_example();
	char *url = s3_presign(&c, "GET", "test.txt", t_20130524(), 86400);
	ASSERT_STREQ(url,
		     "https://examplebucket.s3.amazonaws.com/test.txt"
		     "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
		     "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
		     "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
		     "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	free(url);
}

TEST(presign_aws_example_string_to_sign)
{
	struct s3_sigv4 in = {
		.method = "GET",
		.path = "/test.txt",
		.query = "X-Amz-Algorithm=AWS4-HMAC-SHA256"
			 "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
			 "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
		.headers = "host:examplebucket.s3.amazonaws.com\n",
		.signed_headers = "host",
		.payload_hash = "UNSIGNED-PAYLOAD",
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.secret_key = AWS_SECRET,
	};
	char *sts = s3_sigv4_string_to_sign(&in);
	ASSERT_STREQ(sts, "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
			  "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
	free(sts);
}

/* docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html: GET Object */
TEST(header_aws_example_get_object)
{
	struct s3_sigv4 in = {
		.method = "GET",
		.path = "/test.txt",
		.query = "",
		.headers = "host:examplebucket.s3.amazonaws.com\n"
			   "range:bytes=0-9\n"
			   "x-amz-content-sha256:" EMPTY_SHA256 "\n"
			   "x-amz-date:20130524T000000Z\n",
		.signed_headers = "host;range;x-amz-content-sha256;x-amz-date",
		.payload_hash = EMPTY_SHA256,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.secret_key = AWS_SECRET,
	};
	char sig[65];
	s3_sigv4_signature(&in, sig);
	ASSERT_STREQ(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* Same page: PUT Object ("Welcome to Amazon S3.") */
TEST(header_aws_example_put_object)
{
	char body_hash[65];
	mk_sha256_hex("Welcome to Amazon S3.", 21, body_hash);
	ASSERT_STREQ(body_hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	struct s3_sigv4 in = {
		.method = "PUT",
		.path = "/test%24file.text",
		.query = "",
		.headers = "date:Fri, 24 May 2013 00:00:00 GMT\n"
			   "host:examplebucket.s3.amazonaws.com\n"
			   "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
			   "x-amz-date:20130524T000000Z\n"
			   "x-amz-storage-class:REDUCED_REDUNDANCY\n",
		.signed_headers = "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
		.payload_hash = body_hash,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.secret_key = AWS_SECRET,
	};
	char sig[65];
	s3_sigv4_signature(&in, sig);
	ASSERT_STREQ(sig, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

/* Same page: GET Bucket lifecycle (a sub-resource with an empty value). */
TEST(header_aws_example_lifecycle)
{
	struct s3_sigv4 in = {
		.method = "GET",
		.path = "/",
		.query = "lifecycle=",
		.headers = "host:examplebucket.s3.amazonaws.com\n"
			   "x-amz-content-sha256:" EMPTY_SHA256 "\n"
			   "x-amz-date:20130524T000000Z\n",
		.signed_headers = "host;x-amz-content-sha256;x-amz-date",
		.payload_hash = EMPTY_SHA256,
		.amz_date = "20130524T000000Z",
		.region = "us-east-1",
		.service = "s3",
		.secret_key = AWS_SECRET,
	};
	char sig[65];
	s3_sigv4_signature(&in, sig);
	ASSERT_STREQ(sig, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(uri_encode)
{
	char *a = s3_uri_encode("a b/c~d_e.f-g$h", true);
	ASSERT_STREQ(a, "a%20b/c~d_e.f-g%24h");
	char *b = s3_uri_encode("AKID/20130524/us-east-1/s3/aws4_request", false);
	ASSERT_STREQ(b, "AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request");
	free(a);
	free(b);
}

TEST(path_style_urls)
{
	struct s3_config c = {
		.endpoint = (char *)"http://127.0.0.1:4569",
		.region = (char *)"nyc3",
		.bucket = (char *)"images",
		.access_key = (char *)"AK",
		.secret_key = (char *)"SK",
	};
	char *host = s3_host(&c);
	ASSERT_STREQ(host, "127.0.0.1:4569");
	char *u = s3_object_url(&c, "a b.raw.gz", "uploads=");
	ASSERT_STREQ(u, "http://127.0.0.1:4569/images/a%20b.raw.gz?uploads=");
	c.endpoint = (char *)"https://nyc3.digitaloceanspaces.com:443";
	char *h2 = s3_host(&c);
	ASSERT_STREQ(h2, "nyc3.digitaloceanspaces.com");
	free(host);
	free(u);
	free(h2);
}

TEST(redact_presigned_url)
{
	struct s3_config c = aws_example();
	char *url = s3_presign(&c, "GET", "test.txt", t_20130524(), 86400);
	char *r = s3_redact_url(url);
	ASSERT_TRUE(strstr(r, "aeeed9bb") == NULL);
	ASSERT_TRUE(strstr(r, AWS_KEY) == NULL);
	ASSERT_TRUE(strstr(r, "X-Amz-Signature=REDACTED") != NULL);
	ASSERT_TRUE(strstr(r, "X-Amz-Expires=86400") != NULL);
	free(url);
	free(r);
}

TEST(part_size)
{
	ASSERT_EQ(s3_part_size(1), 16 << 20);
	ASSERT_EQ(s3_part_size(100ULL << 20), 16 << 20);
	/* 200 GB: at most 10000 parts, whole MiB. */
	unsigned long long ps = s3_part_size(200000000000ULL);
	ASSERT_TRUE(ps * 10000 >= 200000000000ULL);
	ASSERT_EQ(ps % (1 << 20), 0);
}

TEST(retry_policy)
{
	ASSERT_TRUE(http_retryable_status(500));
	ASSERT_TRUE(http_retryable_status(503));
	ASSERT_TRUE(http_retryable_status(429));
	ASSERT_TRUE(!http_retryable_status(501));
	ASSERT_TRUE(!http_retryable_status(403));
	ASSERT_TRUE(!http_retryable_status(404));
	ASSERT_TRUE(http_retryable_curl(CURLE_SEND_ERROR));
	ASSERT_TRUE(http_retryable_curl(CURLE_OPERATION_TIMEDOUT));
	ASSERT_TRUE(!http_retryable_curl(CURLE_URL_MALFORMAT));
	ASSERT_EQ((long)http_backoff(1, "7"), 7);
	ASSERT_EQ((long)http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), 10);
	ASSERT_EQ((long)http_parse_retry_after("junk", 0), -1);
	for (unsigned a = 1; a < 20; a++) {
		double d = http_backoff(a, NULL);
		ASSERT_TRUE(d > 0 && d <= 30);
	}
}
