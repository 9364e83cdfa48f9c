/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "disk.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

int disk_fail(struct disk *d, const char *what)
{
	const char *e = d->g ? guestfs_last_error(d->g) : NULL;
	snprintf(d->err, d->errlen, "%s: %s", what, e ? e : "libguestfs failed");
	return -MK_ERR_GUESTFS;
}

void disk_uuid(const char *seed, char out[37])
{
	char h[65];
	mk_sha256_hex(seed, strlen(seed), h);
	/* Version 4 and RFC 4122 variant bits, so tools accept it. */
	h[12] = '4';
	h[16] = "89ab"[strtol((char[]){h[16], 0}, NULL, 16) & 3];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static char *newest_kernel(void)
{
	_cleanup_pclose_ FILE *p = popen("ls -1v /boot/vmlinuz-* 2>/dev/null | tail -n 1", "re");
	char line[512] = "";
	if (!p || !fgets(line, sizeof(line), p))
		return NULL;
	line[strcspn(line, "\n")] = '\0';
	return line[0] && access(line, R_OK) == 0 ? xstrdup(line) : NULL;
}

/*
 * /dev/kvm can exist and open and still not run a guest (nested KVM here
 * hangs while the kernel decompresses). The only sure test is a boot: the
 * host kernel with KVM must reach its panic for a missing root within a few
 * seconds. The answer is kept per host boot.
 */
static bool kvm_works(const char *cache_dir)
{
	_cleanup_free_ char *boot_id = NULL;
	_cleanup_free_ char *stamp = NULL;
	_cleanup_free_ char *saved = NULL;
	_cleanup_free_ char *kernel = NULL;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	close(fd);
	if (mk_read_file("/proc/sys/kernel/random/boot_id", &boot_id, NULL) == 0) {
		boot_id[strcspn(boot_id, "\n")] = '\0';
		stamp = xasprintf("%s/kvm-probe-%s", cache_dir, boot_id);
		if (mk_read_file(stamp, &saved, NULL) == 0)
			return saved[0] == '1';
	}
	kernel = newest_kernel();
	if (!kernel)
		return false;

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		int null = open("/dev/null", O_RDWR);
		dup2(null, STDIN_FILENO);
		dup2(null, STDERR_FILENO);
		execlp("qemu-system-x86_64", "qemu-system-x86_64", "-accel", "kvm", "-m", "256",
		       "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot", "-kernel",
		       kernel, "-append", "console=ttyS0 panic=-1 quiet", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	bool ok = false;
	char buf[4096];
	size_t seen = 0;
	double deadline = mk_now() + 20;
	struct pollfd p = {.fd = pfd[0], .events = POLLIN};
	while (!ok && mk_now() < deadline) {
		if (poll(&p, 1, 500) <= 0)
			continue;
		ssize_t n = read(pfd[0], buf + seen, sizeof(buf) - 1 - seen);
		if (n <= 0)
			break;
		seen += (size_t)n;
		buf[seen] = '\0';
		if (strstr(buf, "Kernel panic") || strstr(buf, "VFS:"))
			ok = true;
		if (seen > sizeof(buf) / 2) { /* keep the tail */
			memmove(buf, buf + seen - 256, 256);
			seen = 256;
		}
	}
	close(pfd[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	if (stamp)
		mk_write_file_atomic(stamp, ok ? "1\n" : "0\n", 2, 0644);
	return ok;
}

int disk_open(struct disk *d, const char *path, uint64_t size, const char *cache_dir, char *err,
	      size_t errlen)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		*d = (struct disk){0};
		snprintf(err, errlen, "cannot create the disk '%s': %s", path, strerror(errno));
		return -errno;
	}
	return disk_open_existing(d, path, cache_dir, err, errlen);
}

int disk_open_existing(struct disk *d, const char *path, const char *cache_dir, char *err,
		       size_t errlen)
{
	*d = (struct disk){.path = xstrdup(path), .err = err, .errlen = errlen};

	/* Respect a user's own choice; otherwise decide ourselves. */
	if (!getenv("LIBGUESTFS_BACKEND_SETTINGS") && !kvm_works(cache_dir)) {
		mk_log_warn("KVM does not work here; the appliance runs under TCG (slower)");
		setenv("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg", 1);
	}
	d->g = guestfs_create();
	if (!d->g) {
		snprintf(err, errlen, "cannot create a libguestfs handle");
		return -ENOMEM;
	}
	guestfs_set_error_handler(d->g, NULL, NULL);
	guestfs_set_memsize(d->g, 1024);
	guestfs_set_smp(d->g, 2);
	if (guestfs_add_drive_opts(d->g, path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
				   GUESTFS_ADD_DRIVE_OPTS_CACHEMODE, "unsafe",
				   /* fstrim then punches holes: a sparse file, fast to compress */
				   GUESTFS_ADD_DRIVE_OPTS_DISCARD, "besteffort", -1) < 0)
		return disk_fail(d, "add the disk");
	if (guestfs_launch(d->g) < 0)
		return disk_fail(d, "start the libguestfs appliance (try 'libguestfs-test-tool')");
	pid_t qemu = guestfs_get_pid(d->g);
	if (qemu > 0)
		mk_child_register(qemu);
	return 0;
}

int disk_close(struct disk *d)
{
	int r = 0;
	if (d->g) {
		pid_t qemu = guestfs_get_pid(d->g);
		if (guestfs_shutdown(d->g) < 0)
			r = disk_fail(d, "shut the appliance down");
		guestfs_close(d->g);
		if (qemu > 0)
			mk_child_forget(qemu);
		d->g = NULL;
	}
	free(d->path);
	d->path = NULL;
	return r;
}

int disk_command(struct disk *d, const char *const *argv)
{
	char *out = guestfs_command(d->g, (char **)argv);
	if (!out)
		return disk_fail(d, argv[0]);
	if (*out)
		mk_log_debug("%s: %s", argv[0], out);
	free(out);
	return 0;
}

/* The composer runs in a thread, writing into a pipe that the appliance
 * reads as a tar stream, so the merged tree never lands on disk. */
struct composer {
	const struct compose_input *in;
	struct compose_result *res;
	int fd;
	int r;
	char err[512];
};

static void *compose_thread(void *arg)
{
	struct composer *c = arg;
	c->r = compose_run(c->in, c->fd, c->res, c->err, sizeof(c->err));
	close(c->fd);
	return NULL;
}

int disk_tar_in(struct disk *d, const struct compose_input *in, const char *dir,
		struct compose_result *res)
{
	int p[2];
	pthread_t t;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	struct composer c = {.in = in, .res = res, .fd = p[1]};
	/* A reader that gives up must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&t, NULL, compose_thread, &c) != 0) {
		close(p[0]);
		close(p[1]);
		return -EAGAIN;
	}
	_cleanup_free_ char *src = xasprintf("/dev/fd/%d", p[0]);
	int r = guestfs_tar_in_opts(d->g, src, dir, GUESTFS_TAR_IN_OPTS_XATTRS, 1, -1);
	int gr = r < 0 ? disk_fail(d, "unpack the tree into the image") : 0;
	close(p[0]);
	pthread_join(t, NULL);
	if (c.r < 0) {
		snprintf(d->err, d->errlen, "compose: %s", c.err);
		return c.r;
	}
	return gr;
}
