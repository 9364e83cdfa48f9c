/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "compose.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <string.h>
#include <sys/stat.h>

static inline void archive_read_freep(struct archive **a) { if (*a) archive_read_free(*a); }
static inline void archive_entry_freep(struct archive_entry **e) { if (*e) archive_entry_free(*e); }
#define _cleanup_archive_read_ _cleanup_(archive_read_freep)
#define _cleanup_archive_entry_ _cleanup_(archive_entry_freep)

/* One path that the layers put into the image. */
struct overlay_entry {
	char *path;   /* relative to / */
	char *source; /* on the host */
	size_t layer;
	mode_t type;  /* S_IFREG, S_IFDIR, S_IFLNK */
	int mode;
	long uid, gid;
};

struct state {
	const struct compose_input *in;
	time_t clamp;              /* the rootfs entries' mtimes are clamped to it */
	time_t file_time;          /* the mtime of what the build makes */
	struct archive *out;
	struct overlay_entry *ov;
	size_t n_ov;
	struct strv rootfs_dirs;   /* sorted after the rootfs pass */
	struct strv emitted_dirs;  /* directories written after the rootfs pass */
	struct strv units;         /* units to enable */
	char **unit_text;          /* unit file text from the rootfs, by index in units */
	char *dpkg_status;
	struct strv doc_pkgs, doc_licenses; /* from usr/share/doc/PKG/copyright */
	struct strv doc_links, doc_targets; /* usr/share/doc/PKG -> OTHER */
	struct compose_result *res;
	char *err;
	size_t errlen;
};

/* What a pass holds, freed on every return (archive_write_free(NULL) is
 * fine). */
static void state_release(struct state *s)
{
	archive_write_free(s->out);
	s->out = NULL;
	for (size_t i = 0; i < s->n_ov; i++) {
		free(s->ov[i].path);
		free(s->ov[i].source);
	}
	free(s->ov);
	s->ov = NULL;
	s->n_ov = 0;
	for (size_t i = 0; s->unit_text && i < s->units.n; i++)
		free(s->unit_text[i]);
	free(s->unit_text);
	s->unit_text = NULL;
	strv_release(&s->units);
	strv_release(&s->rootfs_dirs);
	strv_release(&s->emitted_dirs);
	strv_release(&s->doc_pkgs);
	strv_release(&s->doc_licenses);
	strv_release(&s->doc_links);
	strv_release(&s->doc_targets);
	free(s->dpkg_status);
	s->dpkg_status = NULL;
}

bool compose_is_instance_state(const char *p)
{
	static const char *const globs[] = {
		"etc/ssh/ssh_host_*",
		"var/lib/dbus/machine-id",
		"var/lib/systemd/random-seed",
		"var/lib/systemd/credential.secret",
		"var/cache/apt/archives/*.deb",
		"var/cache/apt/*.bin",
		"var/lib/apt/lists/*_*",
		"var/cache/debconf/*-old",
		"var/lib/dpkg/*-old",
	};
	for (size_t i = 0; i < ELEMENTSOF(globs); i++)
		if (fnmatch(globs[i], p, FNM_PATHNAME) == 0)
			return true;
	/* cloud-init's record of earlier boots: the image has booted nowhere. */
	if (!strncmp(p, "var/lib/cloud/", 14))
		return true;
	return false;
}

/* Logs are files below var/log; the directories and symlinks stay. */
static bool is_log_file(const char *p, mode_t type)
{
	return type == S_IFREG && !strncmp(p, "var/log/", 8);
}

static const char *normalize(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	return p;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool sorted_contains(const struct strv *s, const char *p)
{
	return s->n && bsearch(&p, s->v, s->n, sizeof(char *), cmp_strp) != NULL;
}

static int cmp_overlay(const void *a, const void *b)
{
	const struct overlay_entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	return (x->layer > y->layer) - (x->layer < y->layer);
}

static int find_overlay(const struct state *s, const char *path)
{
	size_t lo = 0, hi = s->n_ov;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->ov[mid].path, path);
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int walk_overlay(struct state *s, const struct recipe_layer *l, size_t li, const char *rel,
			size_t *cap)
{
	_cleanup_free_ char *dir = *rel ? xasprintf("%s/%s", l->overlay, rel) : xstrdup(l->overlay);
	DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d) {
		snprintf(s->err, s->errlen, "%s: cannot read overlay '%s': %s", l->file, dir, strerror(errno));
		return -errno;
	}
	while ((de = readdir(d)) && r == 0) {
		struct stat st;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *path = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		char *src = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(src, &st) < 0) {
			snprintf(s->err, s->errlen, "cannot stat '%s': %s", src, strerror(errno));
			free(path);
			free(src);
			r = -errno;
			break;
		}
		if (*cap == s->n_ov) {
			*cap = *cap ? 2 * *cap : 64;
			s->ov = xrealloc(s->ov, *cap * sizeof(*s->ov));
		}
		struct overlay_entry *e = &s->ov[s->n_ov++];
		*e = (struct overlay_entry){.path = path, .source = src, .layer = li, .uid = 0, .gid = 0};
		if (S_ISDIR(st.st_mode)) {
			e->type = S_IFDIR;
			e->mode = 0755;
		} else if (S_ISLNK(st.st_mode)) {
			e->type = S_IFLNK;
			e->mode = 0777;
		} else if (S_ISREG(st.st_mode)) {
			e->type = S_IFREG;
			e->mode = (st.st_mode & 0111) ? 0755 : 0644;
		} else {
			snprintf(s->err, s->errlen, "%s: '%s' in the overlay is not a file, directory or symlink",
				 l->file, src);
			r = -EINVAL;
			break;
		}
		for (size_t i = 0; i < l->n_attrs; i++) {
			const struct recipe_file_attr *a = &l->attrs[i];
			if (fnmatch(a->glob, path, FNM_PATHNAME) != 0)
				continue;
			if (a->mode >= 0 && e->type != S_IFLNK)
				e->mode = a->mode;
			if (a->uid >= 0)
				e->uid = a->uid;
			if (a->gid >= 0)
				e->gid = a->gid;
		}
		if (e->type == S_IFDIR)
			r = walk_overlay(s, l, li, path, cap);
	}
	closedir(d);
	return r;
}

/* All overlay entries of all layers, sorted by path; a later layer wins. */
static int collect_overlays(struct state *s)
{
	const struct recipe *rec = s->in->recipe;
	size_t cap = 0;
	int r;

	for (size_t i = 0; i < rec->n_layers; i++) {
		if (!rec->layers[i]->overlay)
			continue;
		if ((r = walk_overlay(s, rec->layers[i], i, "", &cap)) < 0)
			return r;
	}
	if (s->n_ov)
		qsort(s->ov, s->n_ov, sizeof(*s->ov), cmp_overlay);
	size_t w = 0;
	for (size_t i = 0; i < s->n_ov; i++) {
		if (i + 1 < s->n_ov && strcmp(s->ov[i].path, s->ov[i + 1].path) == 0) {
			free(s->ov[i].path);
			free(s->ov[i].source);
			continue;
		}
		s->ov[w++] = s->ov[i];
	}
	s->n_ov = w;
	return 0;
}

static int archive_fail(struct state *s, struct archive *a, const char *what)
{
	snprintf(s->err, s->errlen, "%s: %s", what, archive_error_string(a));
	return -MK_ERR_ARCHIVE;
}

static void set_times(struct archive_entry *e, time_t mtime, time_t sde)
{
	archive_entry_set_mtime(e, mtime > sde ? sde : mtime, 0);
	archive_entry_unset_atime(e);
	archive_entry_unset_ctime(e);
	archive_entry_unset_birthtime(e);
}

static int write_entry(struct state *s, struct archive_entry *e, const void *data, size_t len)
{
	if (archive_write_header(s->out, e) != ARCHIVE_OK)
		return archive_fail(s, s->out, archive_entry_pathname(e));
	if (len && archive_write_data(s->out, data, len) != (la_ssize_t)len)
		return archive_fail(s, s->out, archive_entry_pathname(e));
	s->res->entries++;
	s->res->bytes += len;
	return 0;
}

static bool dir_exists(struct state *s, const char *path)
{
	return sorted_contains(&s->rootfs_dirs, path) || strv_contains(&s->emitted_dirs, path);
}

static int emit_dir(struct state *s, const char *path, int mode, long uid, long gid)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFDIR);
	archive_entry_set_perm(e, (mode_t)mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	set_times(e, s->file_time, s->file_time);
	strv_push(&s->emitted_dirs, path);
	return write_entry(s, e, NULL, 0);
}

/* Directories that a generated file needs and the image does not have. */
static int ensure_parents(struct state *s, const char *path)
{
	_cleanup_free_ char *p = xstrdup(path);
	int r;
	for (char *slash = strchr(p, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!dir_exists(s, p) && (r = emit_dir(s, p, 0755, 0, 0)) < 0)
			return r;
		*slash = '/';
	}
	return 0;
}

static int emit_file(struct state *s, const char *path, const void *data, size_t len, int mode,
		     long uid, long gid)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	int r = ensure_parents(s, path);
	if (r < 0)
		return r;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, (mode_t)mode);
	archive_entry_set_uid(e, uid);
	archive_entry_set_gid(e, gid);
	archive_entry_set_size(e, (la_int64_t)len);
	set_times(e, s->file_time, s->file_time);
	return write_entry(s, e, data, len);
}

static int emit_symlink(struct state *s, const char *path, const char *target)
{
	_cleanup_archive_entry_ struct archive_entry *e = archive_entry_new();
	int r = ensure_parents(s, path);
	if (r < 0)
		return r;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFLNK);
	archive_entry_set_perm(e, 0777);
	archive_entry_set_symlink(e, target);
	set_times(e, s->file_time, s->file_time);
	return write_entry(s, e, NULL, 0);
}

static int unit_index(const struct state *s, const char *path)
{
	const char *base;
	if (!strncmp(path, "usr/lib/systemd/system/", 23))
		base = path + 23;
	else if (!strncmp(path, "lib/systemd/system/", 19))
		base = path + 19;
	else
		return -1;
	for (size_t i = 0; i < s->units.n; i++)
		if (!strcmp(s->units.v[i], base))
			return (int)i;
	return -1;
}

/* "usr/share/doc/PKG/copyright" -> PKG (a new string), else NULL. */
static char *copyright_package(const char *path)
{
	if (strncmp(path, "usr/share/doc/", 14) != 0)
		return NULL;
	const char *pkg = path + 14, *slash = strchr(pkg, '/');
	if (!slash || slash == pkg || strcmp(slash, "/copyright") != 0)
		return NULL;
	return strndup(pkg, (size_t)(slash - pkg));
}

/* Where a package's documentation is another's (a symlinked
 * usr/share/doc/PKG, or PKG/copyright), so its licenses are too. */
static void note_doc_link(struct state *s, const char *path, const char *target)
{
	_cleanup_free_ char *pkg = copyright_package(path);
	if (!target)
		return;
	if (!pkg && !strncmp(path, "usr/share/doc/", 14) && !strchr(path + 14, '/') && path[14])
		pkg = xstrdup(path + 14);
	if (!pkg)
		return;
	/* "other", "../other/copyright", "/usr/share/doc/other" */
	_cleanup_free_ char *t = xstrdup(target);
	size_t tl = strlen(t);
	if (tl > 10 && !strcmp(t + tl - 10, "/copyright"))
		t[tl - 10] = '\0';
	const char *base = strrchr(t, '/') ? strrchr(t, '/') + 1 : t;
	if (!*base || !strcmp(base, "..") || !strcmp(base, "."))
		return;
	strv_push(&s->doc_links, pkg);
	strv_push(&s->doc_targets, base);
}

static void note_copyright(struct state *s, const char *path, const char *text)
{
	_cleanup_free_ char *pkg = copyright_package(path);
	char *license = compose_dep5_license(text);
	if (pkg && license) {
		strv_push(&s->doc_pkgs, pkg);
		strv_push_take(&s->doc_licenses, license);
	} else {
		free(license);
	}
}

/* Keeps what the later passes need from a rootfs entry: the dpkg status
 * (the package list) and the text of units to enable. */
static int scan_entry(struct state *s, struct archive *in, const char *path, mode_t type)
{
	int ui = type == AE_IFREG ? unit_index(s, path) : -1;
	bool status = !strcmp(path, "var/lib/dpkg/status");
	_cleanup_free_ char *cpkg = type == AE_IFREG ? copyright_package(path) : NULL;
	if (ui < 0 && !status && !cpkg)
		return archive_read_data_skip(in) == ARCHIVE_OK ? 0 : archive_fail(s, in, path);
	char *text = NULL, buf[1 << 16];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	la_ssize_t n;
	while ((n = archive_read_data(in, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, f);
	fclose(f);
	if (n < 0) {
		free(text);
		return archive_fail(s, in, path);
	}
	if (cpkg && ui < 0 && !status) {
		note_copyright(s, path, text);
		free(text);
		return 0;
	}
	char **slot = status ? &s->dpkg_status : &s->unit_text[ui];
	free(*slot);
	*slot = text;
	return 0;
}

/* Pass 1: the rootfs, less what the overlays replace and instance state. */
static int copy_rootfs(struct state *s)
{
	_cleanup_archive_read_ struct archive *in = archive_read_new();
	struct archive_entry *e;
	char buf[1 << 16];
	int r;

	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	if (archive_read_open_filename(in, s->in->rootfs_tar, 1 << 16) != ARCHIVE_OK)
		return archive_fail(s, in, s->in->rootfs_tar);
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *path = normalize(archive_entry_pathname(e));
		mode_t type = archive_entry_filetype(e);
		_cleanup_free_ char *npath = xstrdup(*path ? path : ".");
		size_t plen = strlen(npath);

		if (plen > 1 && npath[plen - 1] == '/')
			npath[--plen] = '\0';
		if (type == AE_IFDIR)
			strv_push(&s->rootfs_dirs, npath);
		if (type == AE_IFLNK)
			note_doc_link(s, npath, archive_entry_symlink(e));
		/* A directory the overlays also have stays as the packages made it. */
		int oi = s->in->part == COMPOSE_ALL ? find_overlay(s, npath) : -1;
		bool replaced = oi >= 0 && !(type == AE_IFDIR && s->ov[oi].type == S_IFDIR);
		if (replaced || compose_is_instance_state(npath) ||
		    is_log_file(npath, type)) {
			archive_read_data_skip(in);
			continue;
		}
		bool generated = false;
		for (size_t i = 0; i < s->in->n_files; i++)
			if (!strcmp(s->in->files[i].path, npath) &&
			    (s->in->part == COMPOSE_ALL || s->in->files[i].base))
				generated = true;
		if (generated) {
			archive_read_data_skip(in);
			continue;
		}
		if (s->in->part == COMPOSE_LAYERS) {
			/* Only read: what the rootfs has decides what the layers add. */
			if ((r = scan_entry(s, in, npath, type)) < 0)
				return r;
			continue;
		}
		archive_entry_set_pathname(e, npath);
		/* Numeric owners only: the names of this machine mean nothing in the image. */
		archive_entry_set_uname(e, NULL);
		archive_entry_set_gname(e, NULL);
		set_times(e, archive_entry_mtime(e), s->clamp);
		if (archive_write_header(s->out, e) != ARCHIVE_OK)
			return archive_fail(s, s->out, npath);
		s->res->entries++;

		bool keep_status = !strcmp(npath, "var/lib/dpkg/status");
		int ui = type == AE_IFREG ? unit_index(s, npath) : -1;
		_cleanup_free_ char *cpkg = type == AE_IFREG ? copyright_package(npath) : NULL;
		char *captured = NULL;
		size_t clen = 0;
		FILE *cap = (keep_status || ui >= 0 || cpkg) ? open_memstream(&captured, &clen) : NULL;
		for (;;) {
			la_ssize_t n = archive_read_data(in, buf, sizeof(buf));
			if (n < 0) {
				if (cap)
					fclose(cap);
				free(captured);
				return archive_fail(s, in, npath);
			}
			if (n == 0)
				break;
			if (archive_write_data(s->out, buf, (size_t)n) != n) {
				if (cap)
					fclose(cap);
				free(captured);
				return archive_fail(s, s->out, npath);
			}
			if (cap)
				fwrite(buf, 1, (size_t)n, cap);
			s->res->bytes += (uint64_t)n;
		}
		if (cap) {
			fclose(cap);
			if (keep_status) {
				free(s->dpkg_status);
				s->dpkg_status = captured;
			} else if (ui < 0) {
				note_copyright(s, npath, captured);
				free(captured);
			} else {
				free(s->unit_text[ui]);
				s->unit_text[ui] = captured;
			}
		}
	}
	if (r != ARCHIVE_EOF)
		return archive_fail(s, in, s->in->rootfs_tar);
	if (s->rootfs_dirs.n)
		qsort(s->rootfs_dirs.v, s->rootfs_dirs.n, sizeof(char *), cmp_strp);
	return 0;
}

/* Pass 2: the overlays, in path order. */
static int copy_overlays(struct state *s)
{
	int r;
	for (size_t i = 0; i < s->n_ov; i++) {
		const struct overlay_entry *o = &s->ov[i];
		if (o->type == S_IFDIR) {
			/* An existing directory keeps its owner and mode. */
			if (!dir_exists(s, o->path) && (r = emit_dir(s, o->path, o->mode, o->uid, o->gid)) < 0)
				return r;
		} else if (o->type == S_IFLNK) {
			char target[4096];
			ssize_t n = readlink(o->source, target, sizeof(target) - 1);
			if (n < 0) {
				snprintf(s->err, s->errlen, "cannot read link '%s': %s", o->source, strerror(errno));
				return -errno;
			}
			target[n] = '\0';
			if ((r = emit_symlink(s, o->path, target)) < 0)
				return r;
		} else {
			_cleanup_free_ char *data = NULL;
			size_t len = 0;
			if ((r = mk_read_file(o->source, &data, &len)) < 0) {
				snprintf(s->err, s->errlen, "cannot read '%s': %s", o->source, strerror(-r));
				return r;
			}
			if ((r = emit_file(s, o->path, data, len, o->mode, o->uid, o->gid)) < 0)
				return r;
		}
	}
	return 0;
}

/* Copies a tarball's entries below DEST, without its first path component
 * (release tarballs hold one top directory named after the version). */
static int unpack_extra(struct state *s, const struct compose_extra *x)
{
	_cleanup_archive_read_ struct archive *in = archive_read_new();
	struct archive_entry *e;
	char buf[1 << 16];
	int r;

	archive_read_support_format_all(in);
	archive_read_support_filter_all(in);
	if (archive_read_open_filename(in, x->source, 1 << 16) != ARCHIVE_OK)
		return archive_fail(s, in, x->source);
	if (!dir_exists(s, x->path) && (r = ensure_parents(s, x->path)) == 0)
		r = emit_dir(s, x->path, 0755, 0, 0);
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		const char *p = normalize(archive_entry_pathname(e));
		const char *rest = strchr(p, '/');
		mode_t type = archive_entry_filetype(e);
		if (!rest || !rest[1] || strstr(p, "..") || (type != AE_IFREG && type != AE_IFDIR))
			continue;
		_cleanup_free_ char *dest = xasprintf("%s%s", x->path, rest);
		size_t dl = strlen(dest);
		if (dest[dl - 1] == '/')
			dest[--dl] = '\0';
		if (type == AE_IFDIR) {
			if (!dir_exists(s, dest) && (r = emit_dir(s, dest, 0755, 0, 0)) < 0)
				return r;
			continue;
		}
		_cleanup_archive_entry_ struct archive_entry *o = archive_entry_new();
		archive_entry_set_pathname(o, dest);
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, (archive_entry_perm(e) & 0111) ? 0755 : 0644);
		archive_entry_set_size(o, archive_entry_size(e));
		set_times(o, archive_entry_mtime(e), s->in->source_date_epoch);
		if (archive_write_header(s->out, o) != ARCHIVE_OK)
			return archive_fail(s, s->out, dest);
		s->res->entries++;
		la_ssize_t n;
		while ((n = archive_read_data(in, buf, sizeof(buf))) > 0) {
			if (archive_write_data(s->out, buf, (size_t)n) != n)
				return archive_fail(s, s->out, dest);
			s->res->bytes += (uint64_t)n;
		}
		if (n < 0)
			return archive_fail(s, in, x->source);
	}
	return r == ARCHIVE_EOF ? 0 : archive_fail(s, in, x->source);
}

static int copy_extras(struct state *s)
{
	int r;
	for (size_t i = 0; i < s->in->n_extras; i++) {
		const struct compose_extra *x = &s->in->extras[i];
		if (x->unpack) {
			if ((r = unpack_extra(s, x)) < 0)
				return r;
			continue;
		}
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		if ((r = mk_read_file(x->source, &data, &len)) < 0) {
			snprintf(s->err, s->errlen, "cannot read '%s': %s", x->source, strerror(-r));
			return r;
		}
		if ((r = emit_file(s, x->path, data, len, x->mode, 0, 0)) < 0)
			return r;
	}
	return 0;
}

/* What `systemctl enable` does for [Install] WantedBy= and RequiredBy=. */
static int enable_units(struct state *s)
{
	int r;
	for (size_t i = 0; i < s->units.n; i++) {
		const char *unit = s->units.v[i];
		_cleanup_free_ char *ovpath = xasprintf("etc/systemd/system/%s", unit);
		_cleanup_free_ char *text = NULL;
		_cleanup_free_ char *link = NULL;
		int oi = find_overlay(s, ovpath);

		if (oi >= 0) {
			if ((r = mk_read_file(s->ov[oi].source, &text, NULL)) < 0) {
				snprintf(s->err, s->errlen, "cannot read '%s': %s", s->ov[oi].source, strerror(-r));
				return r;
			}
			link = xasprintf("/etc/systemd/system/%s", unit);
		} else if (s->unit_text[i]) {
			text = TAKE_PTR(s->unit_text[i]);
			link = xasprintf("/usr/lib/systemd/system/%s", unit);
		} else {
			snprintf(s->err, s->errlen,
				 "enable: unit '%s' is neither in a layer's overlay nor in the installed packages",
				 unit);
			return -ENOENT;
		}
		bool in_install = false;
		int n_targets = 0;
		for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			line += strspn(line, " \t");
			if (line[0] == '[') {
				in_install = !strncmp(line, "[Install]", 9);
				continue;
			}
			const char *kind = NULL;
			if (in_install && !strncmp(line, "WantedBy=", 9))
				kind = "wants";
			else if (in_install && !strncmp(line, "RequiredBy=", 11))
				kind = "requires";
			if (!kind)
				continue;
			for (char *s2 = NULL, *t = strtok_r(strchr(line, '=') + 1, " \t", &s2); t;
			     t = strtok_r(NULL, " \t", &s2)) {
				_cleanup_free_ char *path = xasprintf("etc/systemd/system/%s.%s/%s", t, kind, unit);
				if ((r = emit_symlink(s, path, link)) < 0)
					return r;
				n_targets++;
			}
		}
		if (n_targets == 0) {
			snprintf(s->err, s->errlen, "enable: unit '%s' has no [Install] WantedBy= or RequiredBy=",
				 unit);
			return -EINVAL;
		}
	}
	return 0;
}

static int cmp_pkg(const void *a, const void *b)
{
	return strcmp(((const struct compose_package *)a)->name, ((const struct compose_package *)b)->name);
}

static const char *doc_license(const struct state *s, const char *pkg)
{
	for (size_t i = 0; i < s->doc_pkgs.n; i++)
		if (!strcmp(s->doc_pkgs.v[i], pkg))
			return s->doc_licenses.v[i];
	return NULL;
}

/* The package's own copyright file, or the one its documentation links to. */
static char *package_license(const struct state *s, const char *pkg)
{
	const char *l = doc_license(s, pkg);
	for (size_t i = 0; !l && i < s->doc_links.n; i++)
		if (!strcmp(s->doc_links.v[i], pkg))
			l = doc_license(s, s->doc_targets.v[i]);
	return l ? xstrdup(l) : NULL;
}

static void parse_dpkg_status(struct state *s)
{
	size_t cap = 0;
	char *name = NULL, *version = NULL, *arch = NULL;
	bool installed = false;
	if (!s->dpkg_status)
		return;
	char *save = NULL;
	for (char *line = strtok_r(s->dpkg_status, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		/* strtok_r folds blank lines, so a new Package: ends a paragraph. */
		if (!line || !strncmp(line, "Package: ", 9)) {
			if (name && version && installed) {
				if (cap == s->res->n_packages) {
					cap = cap ? 2 * cap : 256;
					s->res->packages = xrealloc(s->res->packages, cap * sizeof(*s->res->packages));
				}
				s->res->packages[s->res->n_packages++] = (struct compose_package){
					xstrdup(name), xstrdup(version), xstrdup(arch ? arch : "all"),
					package_license(s, name)};
			}
			free(name);
			free(version);
			free(arch);
			name = version = arch = NULL;
			installed = false;
			if (!line)
				break;
			name = xstrdup(line + 9);
		} else if (!strncmp(line, "Version: ", 9)) {
			version = xstrdup(line + 9);
		} else if (!strncmp(line, "Architecture: ", 14)) {
			arch = xstrdup(line + 14);
		} else if (!strncmp(line, "Status: ", 8)) {
			installed = strstr(line, " installed") != NULL;
		}
	}
	if (s->res->n_packages)
		qsort(s->res->packages, s->res->n_packages, sizeof(*s->res->packages), cmp_pkg);
}

int compose_rootfs_packages(const char *tar, struct compose_result *res, char *err, size_t errlen)
{
	_cleanup_archive_read_ struct archive *in = archive_read_new();
	struct compose_input ci = {.rootfs_tar = tar};
	_cleanup_(state_release) struct state s = {.in = &ci, .res = res, .err = err, .errlen = errlen};
	struct archive_entry *e;
	int r;

	*res = (struct compose_result){0};
	archive_read_support_format_tar(in);
	archive_read_support_filter_all(in);
	if (archive_read_open_filename(in, tar, 1 << 16) != ARCHIVE_OK)
		return archive_fail(&s, in, tar);
	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK) {
		if (strcmp(normalize(archive_entry_pathname(e)), "var/lib/dpkg/status") != 0)
			continue; /* the data is skipped by seeking */
		if ((r = scan_entry(&s, in, "var/lib/dpkg/status", archive_entry_filetype(e))) < 0)
			return r;
		break;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF)
		return archive_fail(&s, in, tar);
	parse_dpkg_status(&s);
	return 0;
}

int compose_run(const struct compose_input *in, int fd, struct compose_result *res, char *err,
		size_t errlen)
{
	struct state s = {.in = in, .res = res, .err = err, .errlen = errlen};
	s.clamp = in->part == COMPOSE_BASE && !in->base_source_date_epoch ? (time_t)INT64_MAX
		  : in->part == COMPOSE_BASE ? in->base_source_date_epoch
					     : in->source_date_epoch;
	s.file_time = in->part != COMPOSE_BASE ? in->source_date_epoch
		      : in->base_source_date_epoch ? in->base_source_date_epoch : time(NULL);
	const struct recipe *rec = in->recipe;
	int r;

	*res = (struct compose_result){0};
	for (size_t i = 0; i < rec->n_layers; i++)
		for (size_t j = 0; j < rec->layers[i]->enable.n; j++)
			if (!strv_contains(&s.units, rec->layers[i]->enable.v[j]))
				strv_push(&s.units, rec->layers[i]->enable.v[j]);
	s.unit_text = xcalloc(s.units.n + 1, sizeof(char *));

	s.out = archive_write_new();
	archive_write_set_format_pax_restricted(s.out);
	archive_write_set_bytes_per_block(s.out, 1 << 16);
	if (archive_write_open_fd(s.out, fd) != ARCHIVE_OK) {
		r = archive_fail(&s, s.out, "output");
		goto out;
	}
	bool base = in->part != COMPOSE_LAYERS, layers = in->part != COMPOSE_BASE;
	if ((layers && (r = collect_overlays(&s)) < 0) || (r = copy_rootfs(&s)) < 0 ||
	    (layers && (r = copy_overlays(&s)) < 0) || (layers && (r = copy_extras(&s)) < 0))
		goto out;
	for (size_t i = 0; i < in->n_files; i++) {
		const struct compose_file *f = &in->files[i];
		if (f->base ? !base : !layers)
			continue;
		if ((r = emit_file(&s, f->path, f->content, f->len, f->mode, 0, 0)) < 0)
			goto out;
	}
	if (layers && (r = enable_units(&s)) < 0)
		goto out;
	if (archive_write_close(s.out) != ARCHIVE_OK) {
		r = archive_fail(&s, s.out, "output");
		goto out;
	}
	parse_dpkg_status(&s);
out:
	state_release(&s);
	return r;
}

static void add_file(struct compose_input *in, const char *path, const char *content, int mode,
		     bool base)
{
	in->files = xrealloc(in->files, (in->n_files + 1) * sizeof(*in->files));
	in->files[in->n_files++] = (struct compose_file){.path = xstrdup(path),
							 .content = xstrdup(content),
							 .len = strlen(content),
							 .mode = mode,
							 .base = base};
}

void compose_add_file(struct compose_input *in, const char *path, const char *content, int mode)
{
	add_file(in, path, content, mode, false);
}

void compose_add_base_file(struct compose_input *in, const char *path, const char *content, int mode)
{
	add_file(in, path, content, mode, true);
}

void compose_input_release(struct compose_input *in)
{
	for (size_t i = 0; i < in->n_files; i++) {
		free(in->files[i].path);
		free(in->files[i].content);
	}
	free(in->files);
	for (size_t i = 0; i < in->n_extras; i++) {
		free(in->extras[i].path);
		free(in->extras[i].source);
	}
	free(in->extras);
	in->files = NULL;
	in->extras = NULL;
	in->n_files = in->n_extras = 0;
}

void compose_result_release(struct compose_result *res)
{
	for (size_t i = 0; i < res->n_packages; i++) {
		free(res->packages[i].name);
		free(res->packages[i].version);
		free(res->packages[i].arch);
		free(res->packages[i].license);
	}
	free(res->packages);
	*res = (struct compose_result){0};
}

/* Trims blanks at both ends in place; folds runs of blanks into one. */
static char *squeeze(char *t)
{
	char *w = t, *r = t;
	bool blank = true;
	for (; *r; r++) {
		bool b = *r == ' ' || *r == '\t' || *r == '\r';
		if (b && blank)
			continue;
		*w++ = b ? ' ' : *r;
		blank = b;
	}
	if (w > t && w[-1] == ' ')
		w--;
	*w = '\0';
	return t;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *compose_dep5_license(const char *text)
{
	_cleanup_free_ char *copy = xstrdup(text ? text : "");
	struct strv files_lic = {0}, other_lic = {0};
	bool header = true, machine = false, has_files = false, fields = false;
	char *para_lic = NULL;

	/* Paragraphs end at blank lines; continuation lines start with a
	 * blank. The first paragraph is the header, which says the format. */
	for (char *line = copy, *next; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		bool end = !next || line[strspn(line, " \t\r")] == '\0';
		char *colon = strchr(line, ':');
		if (!end && line[0] != ' ' && line[0] != '\t' && colon) {
			*colon = '\0';
			char *value = squeeze(colon + 1);
			fields = true;
			if (header && !strcasecmp(line, "Format"))
				machine = strstr(value, "copyright-format") || strstr(value, "dep5");
			else if (!strcasecmp(line, "Files"))
				has_files = true;
			else if (!strcasecmp(line, "License") && *value)
				para_lic = value;
		}
		if (!end || !fields)
			continue;
		struct strv *into = has_files ? &files_lic : &other_lic;
		if (machine && para_lic && !strv_contains(into, para_lic))
			strv_push(into, para_lic);
		if (header && !machine)
			break;
		header = has_files = fields = false;
		para_lic = NULL;
	}
	char *out = NULL;
	/* Without Files paragraphs, the header's License: is the whole package's. */
	struct strv *use = files_lic.n ? &files_lic : &other_lic;
	if (machine && use->n) {
		size_t len = 0;
		FILE *f = open_memstream(&out, &len);
		if (!f)
			abort();
		qsort(use->v, use->n, sizeof(char *), cmp_str);
		for (size_t i = 0; i < use->n; i++) {
			bool compound = strchr(use->v[i], ' ') != NULL && use->n > 1;
			fprintf(f, "%s%s%s%s", i ? " AND " : "", compound ? "(" : "", use->v[i],
				compound ? ")" : "");
		}
		fclose(f);
	}
	strv_release(&files_lic);
	strv_release(&other_lic);
	return out;
}
