/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * The NoCloud seed: an ISO 9660 image labelled "cidata" with user-data,
 * meta-data and, when given, network-config (as cloud-localds makes it), or
 * the same files in a directory. Every file goes to a temporary name next to
 * its place and is renamed there only when it is complete.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../builder/util.h"
#include "seed.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

char *seed_meta_data(const char *user_data, const char *hostname)
{
	size_t u = strlen(user_data), h = strlen(hostname);
	_cleanup_free_ char *buf = xmalloc(u + 1 + h);
	char hex[65];
	memcpy(buf, user_data, u);
	buf[u] = '\0';
	memcpy(buf + u + 1, hostname, h);
	mk_sha256_hex(buf, u + 1 + h, hex);
	explicit_bzero(buf, u);
	hex[16] = '\0';
	return xasprintf("instance-id: iid-mkmesh-%s\nlocal-hostname: %s\n", hex, hostname);
}

/* TMP to PATH; without FORCE never over an existing PATH. */
static int install(const char *tmp, const char *path, bool force)
{
	if (force)
		return rename(tmp, path) < 0 ? -errno : 0;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* A file system without RENAME_NOREPLACE: a hard link cannot replace. */
	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	if (errno == EEXIST)
		return -EEXIST;
	if (mk_path_exists(path))
		return -EEXIST;
	return rename(tmp, path) < 0 ? -errno : 0;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static time_t seed_mtime(void)
{
	const char *e = getenv("SOURCE_DATE_EPOCH");
	char *end;
	if (e && *e) {
		long long t = strtoll(e, &end, 10);
		if (!*end && t >= 0)
			return (time_t)t;
	}
	return time(NULL);
}

static int iso_write(struct archive *a, int fd, const struct seed_file *files, size_t n, char *err,
		     size_t errlen)
{
	time_t t = seed_mtime();
	if (archive_write_set_format_iso9660(a) != ARCHIVE_OK ||
	    archive_write_set_options(a, "iso9660:volume-id=" SEED_VOLUME_ID
					 ",iso9660:rockridge,iso9660:joliet") != ARCHIVE_OK ||
	    archive_write_open_fd(a, fd) != ARCHIVE_OK)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		if (!e)
			abort();
		archive_entry_set_pathname(e, files[i].name);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0600);
		archive_entry_set_size(e, (la_int64_t)files[i].len);
		archive_entry_set_mtime(e, t, 0);
		int r = archive_write_header(a, e);
		archive_entry_free(e);
		if (r != ARCHIVE_OK)
			goto fail;
		if (files[i].len && archive_write_data(a, files[i].data, files[i].len) != (la_ssize_t)files[i].len)
			goto fail;
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		goto fail;
	return 0;
fail:
	seterr(err, errlen, "%s", archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
	return -MK_ERR_ARCHIVE;
}

int seed_write_iso(const char *path, const struct seed_file *files, size_t n, bool force,
		   char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			seterr(err, errlen, "'%s' is a directory", path);
			return -EISDIR;
		}
		if (!force) {
			seterr(err, errlen, "'%s' exists", path);
			return -EEXIST;
		}
	}
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	_cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		seterr(err, errlen, "cannot create a file next to '%s': %s", path, strerror(-r));
		return r;
	}
	mk_temp_register(tmp);
	struct archive *a = archive_write_new();
	if (!a)
		abort();
	int r = iso_write(a, fd, files, n, err, errlen);
	archive_write_free(a);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
		seterr(err, errlen, "cannot write '%s': %s", tmp, strerror(-r));
	}
	if (r == 0 && (r = install(tmp, path, force)) < 0)
		seterr(err, errlen, r == -EEXIST ? "'%s' exists" : "cannot rename the new seed to '%s': %s",
		       path, strerror(-r));
	if (r < 0)
		unlink(tmp);
	mk_temp_forget(tmp);
	return r;
}

int seed_write_dir(const char *dir, const struct seed_file *files, size_t n, bool force,
		   char *err, size_t errlen)
{
	struct stat st;
	if (stat(dir, &st) < 0) {
		int r = -errno;
		seterr(err, errlen, "'%s': %s", dir, strerror(-r));
		return r;
	}
	if (!S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "'%s' is not a directory", dir);
		return -ENOTDIR;
	}
	_cleanup_free_ char **tmps = xcalloc(n, sizeof(char *));
	_cleanup_free_ char **dsts = xcalloc(n, sizeof(char *));
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		dsts[i] = xasprintf("%s/%s", dir, files[i].name);
		if (!force && lstat(dsts[i], &st) == 0) {
			seterr(err, errlen, "'%s' exists", dsts[i]);
			r = -EEXIST;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		tmps[i] = xasprintf("%s/.%s.tmp.XXXXXX", dir, files[i].name);
		int fd = mkostemp(tmps[i], O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			seterr(err, errlen, "cannot create a file in '%s': %s", dir, strerror(-r));
			free(tmps[i]);
			tmps[i] = NULL;
			goto out;
		}
		mk_temp_register(tmps[i]);
		r = write_all(fd, files[i].data, files[i].len);
		if (r == 0 && fsync(fd) < 0)
			r = -errno;
		if (close(fd) < 0 && r == 0)
			r = -errno;
		if (r < 0) {
			seterr(err, errlen, "cannot write '%s': %s", tmps[i], strerror(-r));
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		if ((r = install(tmps[i], dsts[i], force)) < 0) {
			seterr(err, errlen, r == -EEXIST ? "'%s' exists" : "cannot rename a file to '%s': %s",
			       dsts[i], strerror(-r));
			goto out;
		}
		mk_temp_forget(tmps[i]);
		free(tmps[i]);
		tmps[i] = NULL;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
out:
	for (size_t i = 0; i < n; i++) {
		if (tmps[i]) {
			unlink(tmps[i]);
			mk_temp_forget(tmps[i]);
			free(tmps[i]);
		}
		free(dsts[i]);
	}
	return r;
}
