/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

int mk_verbosity = 1;
volatile int mk_interrupted;

static const char *const mk_errors[] = {
	[MK_ERR_RECIPE - MK_ERR_BASE] = "invalid recipe",
	[MK_ERR_USAGE - MK_ERR_BASE] = "invalid usage",
	[MK_ERR_CHILD - MK_ERR_BASE] = "a helper program failed",
	[MK_ERR_NETWORK - MK_ERR_BASE] = "network error",
	[MK_ERR_CHECKSUM - MK_ERR_BASE] = "checksum mismatch",
	[MK_ERR_GUESTFS - MK_ERR_BASE] = "libguestfs error",
	[MK_ERR_ARCHIVE - MK_ERR_BASE] = "archive error",
	[MK_ERR_INTERRUPTED - MK_ERR_BASE] = "interrupted",
	[MK_ERR_HTTP - MK_ERR_BASE] = "server returned an error",
	[MK_ERR_AUTH - MK_ERR_BASE] = "credentials refused",
	[MK_ERR_NOT_REGULAR - MK_ERR_BASE] = "not a regular file",
	[MK_ERR_SYMLINK - MK_ERR_BASE] = "a symbolic link",
	[MK_ERR_EXT2FS - MK_ERR_BASE] = "libext2fs error",
};

const char *mk_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err > MK_ERR_BASE && err < MK_ERR_MAX && mk_errors[err - MK_ERR_BASE])
		return mk_errors[err - MK_ERR_BASE];
	return strerror(err);
}

static void vlog(int level, const char *prefix, const char *fmt, va_list ap)
{
	if (mk_verbosity < level)
		return;
	fputs("mkmesh: ", stderr);
	if (prefix)
		fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

#define DEFINE_LOG(name, level, prefix)                \
	void name(const char *fmt, ...)                \
	{                                              \
		va_list ap;                            \
		va_start(ap, fmt);                     \
		vlog(level, prefix, fmt, ap);          \
		va_end(ap);                            \
	}
DEFINE_LOG(mk_log_error, 0, "error: ")
DEFINE_LOG(mk_log_warn, 1, "warning: ")
DEFINE_LOG(mk_log_info, 1, NULL)
DEFINE_LOG(mk_log_debug, 2, NULL)

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		abort();
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

void strv_push_take(struct strv *s, char *str)
{
	if (s->n + 1 >= s->cap) {
		s->cap = s->cap ? 2 * s->cap : 8;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

void strv_push(struct strv *s, const char *str)
{
	strv_push_take(s, xstrdup(str));
}

bool strv_contains(const struct strv *s, const char *str)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], str) == 0)
			return true;
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void strv_sort(struct strv *s)
{
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
}

void strv_split(struct strv *s, const char *list, const char *seps)
{
	_cleanup_free_ char *copy = xstrdup(list);
	char *save = NULL;
	for (char *t = strtok_r(copy, seps, &save); t; t = strtok_r(NULL, seps, &save))
		if (!strv_contains(s, t))
			strv_push(s, t);
}

void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strv){0};
}

const char *mk_getenv2(const char *a, const char *b)
{
	const char *v = getenv(a);
	if ((!v || !*v) && b)
		v = getenv(b);
	return v && *v ? v : NULL;
}

/* The numbers mkmesh reads from the environment, each with its bounds:
 * one list, checked by mk_env_check() before any command runs. */
static const struct {
	const char *name;
	double min, max;
	bool integer;
} env_numbers[] = {
	{"MKMESH_RETRY_BASE_SECONDS", 0.001, 60, false},
	{"MKMESH_HTTP_STALL_SECONDS", 1, 3600, true},
	{"MKMESH_POLL_SECONDS", 0.001, 600, false},
	{"MKMESH_DEPLOY_TIMEOUT", 1, 7 * 86400, false},
	{"MKMESH_IMPORT_TIMEOUT", 1, 7 * 86400, false},
	/* 9999-12-31T23:59:59Z: what gmtime and every date format can hold */
	{"SOURCE_DATE_EPOCH", 0, 253402300799.0, true},
};

/* V as a plain decimal number (no hex, inf, nan, exponent or spaces). */
static bool parse_number(const char *v, bool integer, double *out)
{
	size_t n = strspn(v, "0123456789");
	if (n == 0 || n > 15)
		return false;
	if (v[n] == '.' && !integer) {
		size_t m = strspn(v + n + 1, "0123456789");
		if (m == 0 || m > 9)
			return false;
		n += 1 + m;
	}
	if (v[n] != '\0')
		return false;
	*out = strtod(v, NULL);
	return true;
}

int mk_env_check(char *err, size_t errlen)
{
	for (size_t i = 0; i < ELEMENTSOF(env_numbers); i++) {
		const char *v = getenv(env_numbers[i].name);
		double d;
		if (!v || !*v)
			continue;
		if (!parse_number(v, env_numbers[i].integer, &d) || d < env_numbers[i].min ||
		    d > env_numbers[i].max) {
			snprintf(err, errlen, "%s='%.40s' is not %s from %g to %.0f; unset it or give one",
				 env_numbers[i].name, v,
				 env_numbers[i].integer ? "a whole number" : "a number", env_numbers[i].min,
				 env_numbers[i].max);
			return -EINVAL;
		}
	}
	return 0;
}

double mk_env_seconds(const char *name, double def)
{
	const char *v = getenv(name);
	double d;
	return v && *v && parse_number(v, false, &d) && d > 0 ? d : def;
}

void mk_scrub(char *s, const char *secret)
{
	if (!s || !secret || strlen(secret) < 4)
		return;
	size_t n = strlen(secret), m = n < 8 ? n : 8;
	char *p;
	while ((p = strstr(s, secret))) {
		memcpy(p, "REDACTED", m);
		memmove(p + m, p + n, strlen(p + n) + 1);
	}
}

double mk_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int mk_mkdir_p(const char *path, int mode)
{
	_cleanup_free_ char *p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int mk_read_file(const char *path, char **out, size_t *len)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return -errno;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		size_t r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f))
		return -EIO;
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int mk_open_regular(int dirfd, const char *path, int flags, uint64_t *size)
{
	int nofollow = flags & MK_NOFOLLOW ? O_NOFOLLOW : 0;
	struct stat want, st;

	/* First what it is, without opening it: opening some devices does
	 * something (a tape rewinds, a modem hangs up). With O_PATH and
	 * O_NOFOLLOW a link is opened as itself. */
	_cleanup_close_ int probe = openat(dirfd, path, O_PATH | O_CLOEXEC | nofollow);
	if (probe < 0 || fstat(probe, &want) < 0)
		return -errno;
	if (S_ISLNK(want.st_mode))
		return -MK_ERR_SYMLINK;
	if (!S_ISREG(want.st_mode))
		return -MK_ERR_NOT_REGULAR;
	/* Then the same file for reading: never blocking, and refused if it
	 * was replaced in between. */
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | nofollow);
	if (fd < 0)
		return errno == ELOOP && nofollow ? -MK_ERR_SYMLINK : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_dev != want.st_dev || st.st_ino != want.st_ino)
		return -MK_ERR_NOT_REGULAR;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	if (size)
		*size = (uint64_t)st.st_size;
	return TAKE_FD(fd);
}

json_t *mk_json_load_regular(const char *path, size_t max, size_t flags, json_error_t *je)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = mk_read_regular(AT_FDCWD, path, 0, max, &text, &len);
	if (r < 0) {
		*je = (json_error_t){.line = -1, .column = -1, .position = 0};
		if (r == -EFBIG)
			snprintf(je->text, sizeof(je->text), "larger than %zu MiB", max >> 20);
		else
			snprintf(je->text, sizeof(je->text), "%s", mk_strerror(r));
		return NULL;
	}
	return json_loadb(text, len, flags, je);
}

int mk_read_regular(int dirfd, const char *path, int flags, size_t max, char **out, size_t *len)
{
	uint64_t size;
	_cleanup_close_ int fd = mk_open_regular(dirfd, path, flags, &size);
	_cleanup_free_ char *buf = NULL;
	size_t n = 0;

	if (fd < 0)
		return fd;
	if (size > max)
		return -EFBIG;
	/* Room for one byte more than allowed, which tells a file that grew
	 * since fstat (or one whose size says nothing, as in /proc). */
	size_t cap = (size_t)size + 1;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap > max)
				break;
			cap = cap > max / 2 ? max + 1 : cap * 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max)
		return -EFBIG;
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int mk_write_file_atomic(const char *path, const void *data, size_t len, int mode)
{
	_cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	const char *p = data;

	if (fd < 0)
		return -errno;
	mk_temp_register(tmp);
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			int r = -errno;
			mk_temp_cleanup();
			return r;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		int r = -errno;
		unlink(tmp);
		mk_temp_forget(tmp);
		return r;
	}
	mk_temp_forget(tmp);
	return 0;
}

bool mk_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

int mk_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d)
			return -errno;
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			_cleanup_free_ char *sub = xasprintf("%s/%s", path, de->d_name);
			mk_rm_rf(sub);
		}
		closedir(d);
		return rmdir(path) < 0 ? -errno : 0;
	}
	return unlink(path) < 0 ? -errno : 0;
}

struct aged {
	char *path;
	time_t mtime;
};

static int cmp_newest_first(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;
	return (y->mtime > x->mtime) - (y->mtime < x->mtime);
}

void mk_prune_newest(const char *dir, const char *prefix, const char *suffix, size_t keep)
{
	struct aged items[64];
	size_t n = 0, plen = strlen(prefix), slen = strlen(suffix);
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d)) && n < ELEMENTSOF(items)) {
		size_t l = strlen(de->d_name);
		struct stat st;
		if (l < plen + slen || strncmp(de->d_name, prefix, plen) != 0 ||
		    strcmp(de->d_name + l - slen, suffix) != 0 || strstr(de->d_name, ".tmp"))
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		if (stat(p, &st) < 0) {
			free(p);
			continue;
		}
		items[n++] = (struct aged){p, st.st_mtime};
	}
	closedir(d);
	qsort(items, n, sizeof(items[0]), cmp_newest_first);
	for (size_t i = 0; i < n; i++) {
		if (i >= keep) {
			mk_log_debug("pruning old cache entry '%s'", items[i].path);
			unlink(items[i].path);
		}
		free(items[i].path);
	}
}

void mk_prune_older(const char *dir, time_t t)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < t)
			unlink(p);
	}
	closedir(d);
}

int mk_copy_sparse(const char *from, const char *to)
{
	_cleanup_close_ int in = open(from, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct stat st;
	if (in < 0 || out < 0 || fstat(in, &st) < 0 || ftruncate(out, st.st_size) < 0)
		return -errno;
	off_t pos = 0;
	while (pos < st.st_size) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			break; /* only a hole is left */
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		off_t src = data, dst = data;
		while (src < hole) {
			ssize_t n = copy_file_range(in, &src, out, &dst, (size_t)(hole - src), 0);
			if (n < 0)
				return -errno;
			if (n == 0)
				break;
		}
		pos = hole;
	}
	return fsync(out) < 0 ? -errno : 0;
}

void mk_hex(const unsigned char *md, unsigned n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (unsigned i = 0; i < n; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[2 * n] = '\0';
}

void mk_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	mk_hex(md, n, out);
}

int mk_sha256_file(const char *path, char out[65], uint64_t *size)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return mk_sha256_fd(fd, out, size);
}

int mk_sha256_fd(int fd, char out[65], uint64_t *size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	uint64_t total = 0;
	char buf[1 << 16];
	int r = 0;

	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		abort();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (;;) {
		ssize_t got = read(fd, buf, sizeof(buf));
		if (got < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		if (got == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)got);
		total += (uint64_t)got;
	}
	EVP_DigestFinal_ex(ctx, md, &n);
	EVP_MD_CTX_free(ctx);
	if (r < 0)
		return r;
	mk_hex(md, n, out);
	if (size)
		*size = total;
	return 0;
}

/* --- temporary files and children, cleaned up on failure and on signals --- */

#define MAX_TEMPS 32
#define MAX_CHILDREN 8
static char *temps[MAX_TEMPS];
static volatile pid_t children[MAX_CHILDREN];

void mk_temp_register(const char *path)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (!temps[i]) {
			temps[i] = xstrdup(path);
			return;
		}
	abort(); /* a leak of registrations is a bug */
}

void mk_temp_forget(const char *path)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (temps[i] && strcmp(temps[i], path) == 0) {
			char *p = temps[i];
			temps[i] = NULL;
			free(p);
			return;
		}
}

void mk_temp_cleanup(void)
{
	for (int i = 0; i < MAX_TEMPS; i++)
		if (temps[i]) {
			char *p = temps[i];
			temps[i] = NULL;
			unlink(p);
			free(p);
		}
}

void mk_child_register(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (!children[i]) {
			children[i] = pid;
			return;
		}
}

void mk_child_forget(pid_t pid)
{
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] == pid)
			children[i] = 0;
}

/*
 * Only async-signal-safe calls here. Children run in their own process
 * groups (so a terminal's Ctrl-C reaches us first): stop each group, give
 * them a few seconds to clean up their own state (mmdebstrap unmounts its
 * chroot), then remove our temporary files, which they might still have
 * been writing, and die by the same signal.
 */
static void on_signal(int sig)
{
	static const char msg[] = "\nmkmesh: interrupted, stopping and removing temporary files\n";
	mk_interrupted = sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0) {
			kill(-children[i], SIGTERM);
			kill(children[i], SIGTERM);
		}
	for (int tries = 0; tries < 100; tries++) {
		bool alive = false;
		for (int i = 0; i < MAX_CHILDREN; i++)
			if (children[i] > 0 && kill(children[i], 0) == 0 &&
			    waitpid(children[i], NULL, WNOHANG) == 0)
				alive = true;
		if (!alive)
			break;
		struct timespec ts = {0, 100 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	for (int i = 0; i < MAX_CHILDREN; i++)
		if (children[i] > 0)
			kill(-children[i], SIGKILL);
	for (int i = 0; i < MAX_TEMPS; i++)
		if (temps[i])
			unlink(temps[i]);
	signal(sig, SIG_DFL);
	raise(sig);
}

void mk_signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int mk_run(char *const argv[], int log_fd, int *exit_status)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Its own process group, which on_signal() stops as a whole. */
		setpgid(0, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		if (log_fd >= 0) {
			dup2(log_fd, STDOUT_FILENO);
			dup2(log_fd, STDERR_FILENO);
		}
		execvp(argv[0], argv);
		fprintf(stderr, "mkmesh: cannot run '%s': %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	mk_child_register(pid);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			mk_child_forget(pid);
			return -errno;
		}
	mk_child_forget(pid);
	if (exit_status)
		*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return -MK_ERR_CHILD;
}

/* --- progress --- */

void mk_progress_begin(struct mk_progress *p, const char *what, uint64_t total)
{
	*p = (struct mk_progress){.what = what, .total = total, .start = mk_now()};
	p->tty = mk_verbosity >= 1 && isatty(STDERR_FILENO);
}

void mk_progress_update(struct mk_progress *p, uint64_t done)
{
	p->done = done;
	if (!p->tty)
		return;
	double now = mk_now();
	if (now - p->last_draw < 0.2 && done != p->total)
		return;
	p->last_draw = now;
	double el = now - p->start;
	double mib = done / 1048576.0;
	if (p->total) {
		int pct = (int)(100.0 * done / p->total);
		int fill = pct * 30 / 100;
		fprintf(stderr, "\r  %-12s [%.*s%*s] %3d%% %8.1f MiB %6.1f MiB/s", p->what, fill,
			"##############################", 30 - fill, "", pct, mib,
			el > 0 ? mib / el : 0.0);
	} else {
		fprintf(stderr, "\r  %-12s %8.1f MiB %6.1f MiB/s", p->what, mib, el > 0 ? mib / el : 0.0);
	}
}

void mk_progress_end(struct mk_progress *p)
{
	if (p->tty)
		fputs("\r\033[K", stderr);
}
