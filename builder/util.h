/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Small helpers shared by every module: scoped cleanup, errors, logging. */
#ifndef MK_UTIL_H
#define MK_UTIL_H

#include <jansson.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Our own error codes live above errno, as apk-tools does. */
enum {
	MK_ERR_BASE = 1024,
	MK_ERR_RECIPE,      /* a recipe is malformed */
	MK_ERR_USAGE,       /* bad command line */
	MK_ERR_CHILD,       /* a helper program failed */
	MK_ERR_NETWORK,     /* a download or a server could not be reached */
	MK_ERR_CHECKSUM,    /* content does not match its pinned hash */
	MK_ERR_GUESTFS,     /* libguestfs reported an error */
	MK_ERR_ARCHIVE,     /* libarchive reported an error */
	MK_ERR_INTERRUPTED, /* stopped by a signal */
	MK_ERR_HTTP,        /* a server answered with an error status */
	MK_ERR_AUTH,        /* credentials were refused */
	MK_ERR_NOT_REGULAR, /* a FIFO, a device or a directory where a file was wanted */
	MK_ERR_SYMLINK,     /* a symbolic link where links are not followed */
	MK_ERR_EXT2FS,      /* libext2fs reported an error */
	MK_ERR_MAX
};

const char *mk_strerror(int err);

/* Scoped cleanup, as systemd does it. */
static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
static inline void pclosep(FILE **f) { if (*f) pclose(*f); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_pclose_ _cleanup_(pclosep)
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })
#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))

/* Logging: one place decides what reaches stderr. */
extern int mk_verbosity; /* 0 = -q, 1 = normal, 2 = -v */
void mk_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mk_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mk_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mk_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocation that aborts on out-of-memory: there is nothing to recover. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable array of strings. */
struct strv {
	char **v;
	size_t n, cap;
};
void strv_push(struct strv *s, const char *str);
void strv_push_take(struct strv *s, char *str);
bool strv_contains(const struct strv *s, const char *str);
void strv_sort(struct strv *s);
/* Adds the items of a list separated by any of SEPS, skipping empty ones
 * and those already there. */
void strv_split(struct strv *s, const char *list, const char *seps);
void strv_release(struct strv *s);

/* The value of environment variable A, or else of B (may be NULL); NULL
 * when neither is set or both are empty. */
const char *mk_getenv2(const char *a, const char *b);
/* A positive number of seconds from the environment, or DEF. */
/* Checks every numeric environment value mkmesh reads against its bounds. */
int mk_env_check(char *err, size_t errlen);
/* NAME as seconds (checked by mk_env_check), or DEF when unset. */
double mk_env_seconds(const char *name, double def);
/* Replaces every occurrence of SECRET in S (in place) so that a server's
 * message that echoes a credential never reaches the output. */
void mk_scrub(char *s, const char *secret);

/* Seconds since an arbitrary start, for stage timings. */
double mk_now(void);

/* Files. */
int mk_mkdir_p(const char *path, int mode);
int mk_read_file(const char *path, char **out, size_t *len);
/*
 * Files from outside (a download, a path on the command line). They are
 * opened with O_NONBLOCK, so that a FIFO or a device never hangs the open,
 * and refused unless they are regular files: -MK_ERR_NOT_REGULAR. With
 * MK_NOFOLLOW a symbolic link is refused too (-MK_ERR_SYMLINK). DIRFD is
 * AT_FDCWD or the directory PATH is relative to. mk_open_regular returns
 * the fd (O_NONBLOCK cleared) and its size.
 */
#define MK_NOFOLLOW 1
int mk_open_regular(int dirfd, const char *path, int flags, uint64_t *size);
/* The whole of such a file, NUL-terminated, when it holds at most MAX bytes;
 * -EFBIG for a larger one, also one that grows while it is read. */
int mk_read_regular(int dirfd, const char *path, int flags, size_t max, char **out, size_t *len);
/* A JSON document from such a file of at most MAX bytes (jansson's FLAGS);
 * NULL with JE set (line -1 and the cause in text when it cannot be read). */
json_t *mk_json_load_regular(const char *path, size_t max, size_t flags, json_error_t *je);
int mk_write_file_atomic(const char *path, const void *data, size_t len, int mode);
bool mk_path_exists(const char *path);
int mk_rm_rf(const char *path);
/* Removes all but the KEEP most recently modified files of DIR named
 * PREFIX*SUFFIX (temporaries, "*.tmp*", are left alone). */
void mk_prune_newest(const char *dir, const char *prefix, const char *suffix, size_t keep);
/* Removes the files of DIR last modified before T. */
void mk_prune_older(const char *dir, time_t t);
/* Copies a sparse file keeping its holes (only the data is read and written). */
int mk_copy_sparse(const char *from, const char *to);

/* N bytes as 2N lower-case hex digits + NUL. */
void mk_hex(const unsigned char *bytes, unsigned n, char *out);

/* sha256 of a memory block or a file, as 64 lower-case hex digits + NUL. */
void mk_sha256_hex(const void *data, size_t len, char out[65]);
int mk_sha256_file(const char *path, char out[65], uint64_t *size);
/* The same for an open file, read from its current offset to its end. */
int mk_sha256_fd(int fd, char out[65], uint64_t *size);

/*
 * Temporary files that must not survive a failure or a signal. The signal
 * handler unlinks them (unlink is async-signal-safe) and stops the children
 * we registered before it re-raises the signal.
 */
void mk_temp_register(const char *path);
void mk_temp_forget(const char *path);
void mk_temp_cleanup(void);
void mk_child_register(pid_t pid);
void mk_child_forget(pid_t pid);
void mk_signals_install(void);
extern volatile int mk_interrupted;

/* Run a program, stdout and stderr appended to log_fd (or inherited if < 0). */
int mk_run(char *const argv[], int log_fd, int *exit_status);

/* Progress: one line per stage, a bar only when stderr is a terminal. */
struct mk_progress {
	const char *what;
	uint64_t total, done;
	double start, last_draw;
	bool tty;
};
void mk_progress_begin(struct mk_progress *p, const char *what, uint64_t total);
void mk_progress_update(struct mk_progress *p, uint64_t done);
void mk_progress_end(struct mk_progress *p);

#endif
