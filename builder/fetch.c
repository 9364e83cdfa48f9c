/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "fetch.h"

#include <curl/curl.h>
#include <ctype.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <string.h>

#include "util.h"

static inline void curl_easy_cleanupp(CURL **c) { if (*c) curl_easy_cleanup(*c); }
#define _cleanup_curl_ _cleanup_(curl_easy_cleanupp)

/* The first bytes of a probed file, to tell a Release file from a page. */
struct head {
	char b[64];
	size_t n;
};

static size_t keep_head(void *p, size_t size, size_t n, void *ud)
{
	struct head *h = ud;
	size_t len = size * n, room = sizeof(h->b) - 1 - h->n;
	memcpy(h->b + h->n, p, len < room ? len : room);
	h->n += len < room ? len : room;
	h->b[h->n] = '\0';
	return len;
}

/* A Debian Release file starts with a field: "Origin: Debian". */
static bool looks_like_fields(const char *s)
{
	size_t i = 0;
	if (!isalpha((unsigned char)s[0]))
		return false;
	while (isalnum((unsigned char)s[i]) || s[i] == '-')
		i++;
	return s[i] == ':';
}

int fetch_probe_release(const char *url, long *status, char *err, size_t errlen)
{
	_cleanup_curl_ CURL *c = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	struct head h = {.n = 0};
	long code = 0;

	if (!c)
		abort();
	*status = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_head);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &h);
	/* A ranged GET: some servers do not answer HEAD, every one answers GET. */
	curl_easy_setopt(c, CURLOPT_RANGE, "0-63");
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
		return -MK_ERR_NETWORK;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	*status = code;
	if (code >= 400) {
		snprintf(err, errlen, "the server answered HTTP %ld%s", code,
			 code == 407 ? " (Proxy Authentication Required)" : "");
		return -MK_ERR_HTTP;
	}
	if (!looks_like_fields(h.b)) {
		for (char *p = h.b; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = ' ';
		snprintf(err, errlen, "the server answered with something that is not a Release file "
			 "(it starts '%.40s')", h.b);
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

static int copy_file(const char *from, const char *to)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char buf[1 << 16];
	ssize_t n;
	if (in < 0 || out < 0)
		return -errno;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			return -EIO;
	if (n < 0 || fsync(out) < 0)
		return -errno;
	return 0;
}

static int download(const char *url, const char *to, char *err, size_t errlen)
{
	const char *base = strrchr(url, '/');
	_cleanup_close_ int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int r = -errno;
		snprintf(err, errlen, "cannot create '%s': %s", to, strerror(errno));
		return r;
	}
	_cleanup_curl_ CURL *c = curl_easy_init();
	char cerr[CURL_ERROR_SIZE] = "";
	struct dl d = {.fd = fd};
	if (!c)
		abort();
	mk_progress_begin(&d.prog, base ? base + 1 : url, 0);
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
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "cannot download '%s': %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
		return -MK_ERR_NETWORK;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* Puts what URL names at DEST: from ARTIFACTS_DIR (a file named like the
 * URL's last component) when given, else downloaded. Atomic. */
static int obtain(const char *url, const char *artifacts_dir, const char *dest, char *err,
		  size_t errlen)
{
	const char *base = strrchr(url, '/');
	_cleanup_free_ char *tmp = xasprintf("%s.part.%d", dest, (int)getpid());
	int r;

	base = base ? base + 1 : url;
	mk_temp_register(tmp);
	if (artifacts_dir) {
		/* A local copy, for builds without the Internet (mkmesh fetch). */
		_cleanup_free_ char *local = xasprintf("%s/%s", artifacts_dir, base);
		if (!mk_path_exists(local)) {
			snprintf(err, errlen, "'%s' is not in --artifacts '%s' (looked for '%s')", url,
				 artifacts_dir, local);
			r = -ENOENT;
		} else if ((r = copy_file(local, tmp)) < 0) {
			snprintf(err, errlen, "cannot copy '%s' into the cache: %s", local, strerror(-r));
		}
	} else {
		r = download(url, tmp, err, errlen);
	}
	if (r == 0 && rename(tmp, dest) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot rename '%s': %s", tmp, strerror(errno));
	}
	if (r < 0)
		unlink(tmp);
	mk_temp_forget(tmp);
	return r;
}

static char *cache_path(const char *cache_dir, const char *name, char *err, size_t errlen)
{
	_cleanup_free_ char *dir = xasprintf("%s/artifacts", cache_dir);
	int r = mk_mkdir_p(dir, 0755);
	if (r < 0) {
		snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(-r));
		return NULL;
	}
	return xasprintf("%s/%s", dir, name);
}

int fetch_artifact(const char *url, const char *sha256, const char *cache_dir,
		   const char *artifacts_dir, char **path, char *err, size_t errlen)
{
	_cleanup_free_ char *dest = cache_path(cache_dir, sha256, err, errlen);
	_cleanup_free_ char *fresh = NULL;
	int r;

	if (!dest)
		return -EIO;
	if (mk_path_exists(dest) && verify(dest, sha256, dest, err, errlen) == 0) {
		*path = TAKE_PTR(dest);
		return 0;
	}
	/* Verified under another name first: the cache only holds good files. */
	fresh = xasprintf("%s.new", dest);
	if ((r = obtain(url, artifacts_dir, fresh, err, errlen)) < 0)
		return r;
	if ((r = verify(fresh, sha256, url, err, errlen)) < 0 || rename(fresh, dest) < 0) {
		if (r == 0) {
			r = -errno;
			snprintf(err, errlen, "cannot rename '%s': %s", fresh, strerror(errno));
		}
		unlink(fresh);
		return r;
	}
	*path = TAKE_PTR(dest);
	return 0;
}

int fetch_file(const char *url, const char *name, const char *cache_dir, const char *artifacts_dir,
	       char **path, char *err, size_t errlen)
{
	_cleanup_free_ char *dest = cache_path(cache_dir, name, err, errlen);
	if (!dest)
		return -EIO;
	int r = obtain(url, artifacts_dir, dest, err, errlen);
	if (r < 0)
		return r;
	*path = TAKE_PTR(dest);
	return 0;
}

/* Runs ARGV with stdout captured (stderr too when MERGE). */
static int capture(char *const argv[], bool merge, char **out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(p[1], STDOUT_FILENO);
		if (merge)
			dup2(p[1], STDERR_FILENO);
		else {
			int null = open("/dev/null", O_WRONLY);
			dup2(null, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char chunk[4096];
	ssize_t n;
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0)
		fwrite(chunk, 1, (size_t)n, f);
	fclose(f);
	close(p[0]);
	int status;
	waitpid(pid, &status, 0);
	*out = buf;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -MK_ERR_CHILD;
}

static bool same_fingerprint(const char *a, const char *b)
{
	size_t n = 0;
	for (; isxdigit((unsigned char)a[n]); n++)
		;
	return n == 40 && strncasecmp(a, b, 40) == 0;
}

/* Reads the key file KEY: 1 when it is armored, 0 when binary. */
static int read_key(const char *key, char **text, size_t *len, char *err, size_t errlen)
{
	int r = mk_read_file(key, text, len);
	if (r < 0) {
		snprintf(err, errlen, "cannot read the key '%s': %s", key, strerror(-r));
		return r;
	}
	return *len >= 10 && strncmp(*text, "-----BEGIN", 10) == 0;
}

static int dearmor(const char *key, const char *out_path, char *err, size_t errlen)
{
	char *argv[] = {(char *)"gpg", (char *)"--batch", (char *)"--yes", (char *)"--dearmor",
			(char *)"--output", (char *)out_path, (char *)key, NULL};
	_cleanup_free_ char *out = NULL;
	int r = capture(argv, true, &out);
	if (r < 0)
		snprintf(err, errlen, "cannot dearmor the key '%s' (is gnupg installed?): %s", key,
			 out ? out : "");
	return r;
}

/* gpgv wants a binary keyring; an armored key is dearmored first. */
static int binary_key(const char *key, char **path, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_key(key, &text, &len, err, errlen);
	if (r < 0)
		return r;
	if (r == 0) {
		*path = xstrdup(key);
		return 0;
	}
	char tmpl[] = "/tmp/mkmesh-key.XXXXXX";
	int fd = mkstemp(tmpl);
	if (fd < 0)
		return -errno;
	close(fd);
	r = dearmor(key, tmpl, err, errlen);
	if (r < 0) {
		unlink(tmpl);
		return r;
	}
	*path = xstrdup(tmpl);
	return 1; /* a temporary file the caller removes */
}

int fetch_keyring(const char *key, const char *dest, char *err, size_t errlen)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_key(key, &text, &len, err, errlen);
	if (r < 0)
		return r;
	if (r == 0) {
		r = mk_write_file_atomic(dest, text, len, 0644);
		if (r < 0)
			snprintf(err, errlen, "cannot write '%s': %s", dest, strerror(-r));
		return r;
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", dest);
	r = dearmor(key, tmp, err, errlen);
	if (r == 0 && rename(tmp, dest) < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, dest, strerror(-r));
	}
	if (r < 0)
		unlink(tmp);
	return r;
}

int fetch_check_key(const char *key, const char *fingerprint, char *err, size_t errlen)
{
	char *argv[] = {(char *)"gpg", (char *)"--batch", (char *)"--with-colons", (char *)"--show-keys",
			(char *)key, NULL};
	_cleanup_free_ char *out = NULL;
	int r = capture(argv, false, &out);
	if (r == -ENOENT) {
		snprintf(err, errlen, "gpg is needed to check the key '%s': apt-get install gnupg", key);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "'%s' is not an OpenPGP public key", key);
		return -MK_ERR_CHECKSUM;
	}
	/* The file becomes the source's whole keyring in the image, so it must
	 * hold the pinned key and nothing else: exactly one primary key ("pub"),
	 * no secret key, and the fpr line right after "pub" is the pinned one. */
	size_t n_pub = 0;
	bool pinned = false, secret = false;
	for (const char *line = out; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (!strncmp(line, "sec:", 4) || !strncmp(line, "ssb:", 4))
			secret = true;
		if (strncmp(line, "pub:", 4) != 0)
			continue;
		n_pub++;
		const char *fpr = strstr(line, "\nfpr:");
		const char *next = strstr(line, "\npub:");
		if (!fpr || (next && next < fpr))
			continue;
		const char *v = fpr + 1;
		for (int i = 0; i < 9 && v; i++)
			v = strchr(v, ':') ? strchr(v, ':') + 1 : NULL;
		if (v && same_fingerprint(v, fingerprint))
			pinned = true;
	}
	if (secret) {
		snprintf(err, errlen, "the key '%s' holds a secret key; export only the public key "
			 "(gpg --export %s)", key, fingerprint);
		return -MK_ERR_CHECKSUM;
	}
	if (pinned && n_pub == 1)
		return 0;
	if (pinned)
		snprintf(err, errlen, "the key '%s' holds %zu keys, the pinned one and others; it becomes the "
			 "source's whole keyring, so it must hold only %s (gpg --export %s)",
			 key, n_pub, fingerprint, fingerprint);
	else
		snprintf(err, errlen, "the key '%s' is not the pinned one (expected fingerprint %s)", key,
			 fingerprint);
	return -MK_ERR_CHECKSUM;
}

int fetch_verify_signature(const char *data, const char *sig, const char *key,
			   const char *fingerprint, char *err, size_t errlen)
{
	_cleanup_free_ char *keyring = NULL, *out = NULL;
	int tmp = binary_key(key, &keyring, err, errlen);
	if (tmp < 0)
		return tmp;
	char *argv[] = {(char *)"gpgv", (char *)"--status-fd", (char *)"1", (char *)"--keyring", keyring,
			(char *)sig, (char *)data, NULL};
	int r = capture(argv, false, &out);
	if (tmp == 1)
		unlink(keyring);
	if (r == -ENOENT) {
		snprintf(err, errlen, "gpgv is needed to check signatures: apt-get install gpgv");
		return r;
	}
	/* [GNUPG:] VALIDSIG <key fpr> <date> ... <primary key fpr> */
	const char *v = out ? strstr(out, "[GNUPG:] VALIDSIG ") : NULL;
	if (r < 0 || !v) {
		snprintf(err, errlen, "the signature '%s' of '%s' is not valid for the key '%s'", sig, data,
			 key);
		return -MK_ERR_CHECKSUM;
	}
	const char *eol = strchr(v, '\n');
	const char *last = v;
	for (const char *p = v; *p && (!eol || p < eol); p++)
		if (*p == ' ')
			last = p + 1;
	if (!same_fingerprint(last, fingerprint) && !same_fingerprint(v + 18, fingerprint)) {
		snprintf(err, errlen, "'%s' is signed, but not by the pinned key %s", data, fingerprint);
		return -MK_ERR_CHECKSUM;
	}
	return 0;
}
