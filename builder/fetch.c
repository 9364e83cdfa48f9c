/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fetch.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <string.h>

#include "util.h"

static inline void curl_easy_cleanupp(CURL **c) { if (*c) curl_easy_cleanup(*c); }
#define _cleanup_curl_ _cleanup_(curl_easy_cleanupp)

static size_t discard(void *p, size_t size, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return size * n;
}

int fetch_probe(const char *url, char *err, size_t errlen)
{
	_cleanup_curl_ CURL *c = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	long code = 0;

	if (!c)
		abort();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	/* A ranged GET: some servers do not answer HEAD, every one answers GET. */
	curl_easy_setopt(c, CURLOPT_RANGE, "0-0");
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -MK_ERR_NETWORK;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 400) {
		snprintf(err, errlen, "the server answered HTTP %ld", code);
		return -MK_ERR_HTTP;
	}
	return 0;
}

struct dl {
	int fd;
	struct mk_progress prog;
	curl_off_t done;
};

static size_t write_fd(void *p, size_t size, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = size * n;
	const char *b = p;
	while (len) {
		ssize_t w = write(d->fd, b, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		b += w;
		len -= (size_t)w;
	}
	return size * n;
}

static int xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		    curl_off_t ulnow)
{
	struct dl *d = ud;
	(void)ultotal;
	(void)ulnow;
	if (dltotal > 0)
		d->prog.total = (uint64_t)dltotal;
	mk_progress_update(&d->prog, (uint64_t)dlnow);
	return mk_interrupted ? 1 : 0;
}

static int verify(const char *path, const char *sha256, const char *what, char *err, size_t errlen)
{
	char got[65];
	int r = mk_sha256_file(path, got, NULL);
	if (r < 0) {
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
		return r;
	}
	if (strcmp(got, sha256) != 0) {
		snprintf(err, errlen, "'%s' does not match its pinned sha256: expected %s, got %s", what,
			 sha256, got);
		return -MK_ERR_CHECKSUM;
	}
	return 0;
}

int fetch_artifact(const char *url, const char *sha256, const char *cache_dir,
		   const char *artifacts_dir, char **path, char *err, size_t errlen)
{
	_cleanup_free_ char *dir = xasprintf("%s/artifacts", cache_dir);
	_cleanup_free_ char *dest = xasprintf("%s/%s", dir, sha256);
	const char *base = strrchr(url, '/');
	int r;

	base = base ? base + 1 : url;
	if ((r = mk_mkdir_p(dir, 0755)) < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(-r));
		return r;
	}
	if (mk_path_exists(dest) && verify(dest, sha256, dest, err, errlen) == 0) {
		*path = TAKE_PTR(dest);
		return 0;
	}

	_cleanup_free_ char *tmp = xasprintf("%s.part.%d", dest, (int)getpid());
	mk_temp_register(tmp);
	if (artifacts_dir) {
		/* A local copy, for builds without the Internet (mkmesh fetch). */
		_cleanup_free_ char *local = xasprintf("%s/%s", artifacts_dir, base);
		if (!mk_path_exists(local)) {
			snprintf(err, errlen, "'%s' is not in --artifacts '%s' (looked for '%s')", url,
				 artifacts_dir, local);
			mk_temp_forget(tmp);
			return -ENOENT;
		}
		if ((r = verify(local, sha256, local, err, errlen)) < 0) {
			mk_temp_forget(tmp);
			return r;
		}
		_cleanup_free_ char *data = NULL;
		size_t len;
		if ((r = mk_read_file(local, &data, &len)) < 0 ||
		    (r = mk_write_file_atomic(dest, data, len, 0644)) < 0) {
			snprintf(err, errlen, "cannot copy '%s' into the cache: %s", local, strerror(-r));
			mk_temp_forget(tmp);
			return r;
		}
		mk_temp_forget(tmp);
		*path = TAKE_PTR(dest);
		return 0;
	}

	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", tmp, strerror(errno));
		mk_temp_forget(tmp);
		return r;
	}
	_cleanup_curl_ CURL *c = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	struct dl d = {.fd = fd};
	long code = 0;
	if (!c)
		abort();
	mk_progress_begin(&d.prog, base, 0);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_fd);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &d);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &d);
	CURLcode rc = curl_easy_perform(c);
	mk_progress_end(&d.prog);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot download '%s': %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
		unlink(tmp);
		mk_temp_forget(tmp);
		return -MK_ERR_NETWORK;
	}
	if (fsync(fd) < 0 || (r = verify(tmp, sha256, url, err, errlen)) < 0) {
		unlink(tmp);
		mk_temp_forget(tmp);
		return r < 0 ? r : -errno;
	}
	if (rename(tmp, dest) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
		unlink(tmp);
		mk_temp_forget(tmp);
		return r;
	}
	mk_temp_forget(tmp);
	*path = TAKE_PTR(dest);
	return 0;
}
