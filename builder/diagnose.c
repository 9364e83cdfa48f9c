/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading a failed tool's log for its cause. apt and mmdebstrap say what
 * went wrong in "E: " lines, many of them consequences of the first real
 * one (“apt-get update ... failed”, “mmdebstrap failed to run”): the rules
 * below look for the lines that name a cause, most specific first, and
 * fall back to the first E: line that is not a consequence. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "diagnose.h"
#include "util.h"

/* The end of a log says why it stopped; a long apt log is megabytes. */
#define LOG_TAIL (256 * 1024)
/* Less than this free in the cache after a failure: it filled up. */
#define CACHE_NEARLY_FULL (16ULL << 20)

/* The line of TEXT holding AT, without its "E: " and trailing spaces. */
static void line_at(const char *text, const char *at, char *out, size_t len)
{
	const char *b = at, *e = strchr(at, '\n');
	while (b > text && b[-1] != '\n')
		b--;
	if (!e)
		e = at + strlen(at);
	if (!strncmp(b, "E: ", 3))
		b += 3;
	while (e > b && (e[-1] == ' ' || e[-1] == '\r'))
		e--;
	snprintf(out, len, "%.*s", (int)(e - b), b);
	/* The log is the tool's: keep the message to plain printable text. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
}

/* The E: lines that only say that something before them failed. */
static bool consequence(const char *line)
{
	static const char *const generic[] = {"E: mmdebstrap failed", "E: apt-get update ",
					      "E: setup failed", "E: run_setup failed",
					      "E: apt-get ", "E: Sub-process ", "E: The repository ",
					      "E: Some index files failed"};
	for (size_t i = 0; i < ELEMENTSOF(generic); i++)
		if (!strncmp(line, generic[i], strlen(generic[i])))
			return true;
	return false;
}

static void human(uint64_t n, char *out, size_t len)
{
	if (n >= 1ULL << 30)
		snprintf(out, len, "%.1f GiB", (double)n / (1 << 30));
	else
		snprintf(out, len, "%.1f MiB", (double)n / (1 << 20));
}

static void no_space(const char *line, const struct diagnose_hints *h, char *fix, size_t len)
{
	const char *tmp = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char need[32];
	human(h->disk_size ? h->disk_size : 4ULL << 30, need, sizeof(need));
	/* mmdebstrap unpacks in a directory of its own under TMPDIR and
	 * removes it when it fails, so only the log says it was there. */
	bool in_tmp = strstr(line, "/mmdebstrap.") != NULL;
	struct statvfs st;
	char avail[32] = "?", total[32] = "?";
	const char *dir = in_tmp ? tmp : h->cache_dir;
	if (dir && statvfs(dir, &st) == 0) {
		human((uint64_t)st.f_bavail * st.f_frsize, avail, sizeof(avail));
		human((uint64_t)st.f_blocks * st.f_frsize, total, sizeof(total));
	}
	if (in_tmp)
		snprintf(fix, len,
			 "the temporary directory '%s' (TMPDIR, where mmdebstrap unpacks the system) is full "
			 "(%s free of %s); a build needs up to about %s there: free space, or set TMPDIR "
			 "to a directory on a bigger disk",
			 tmp, avail, total, need);
	else
		snprintf(fix, len,
			 "the cache '%s' (root file systems and apt's downloads) is full (%s free of %s); "
			 "a build needs up to about %s there: free space (mkmesh keeps only the newest "
			 "builds; 'rm -r %s/logs' is safe), or give --cache DIR on a bigger disk",
			 dir ? dir : "?", avail, total, need, dir ? dir : "?");
}

/* NEEDLE in TEXT, on an "E: " line when there is one: apt says a cause
 * twice, indented under "Err:" and again as an error. */
static const char *find(const char *text, const char *needle)
{
	const char *first = strstr(text, needle);
	for (const char *at = first; at; at = strstr(at + 1, needle)) {
		const char *b = at;
		while (b > text && b[-1] != '\n')
			b--;
		if (!strncmp(b, "E: ", 3))
			return at;
	}
	return first;
}

void diagnose_apt_text(const char *text, const struct diagnose_hints *h, char *cause, size_t cause_len,
		       char *fix, size_t fix_len)
{
	const char *suite = h->suite ? h->suite : "?", *mirror = h->mirror ? h->mirror : "?";
	const char *at;
	char name[256];

	cause[0] = fix[0] = '\0';
	if ((at = strstr(text, "No space left on device"))) {
		line_at(text, at, cause, cause_len);
		no_space(cause, h, fix, fix_len);
	} else if ((at = strstr(text, "E: Release file for ")) && strstr(at, " is expired")) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "the mirror's Release file for '%s' is past its Valid-Until date. For a frozen "
			 "mirror or a snapshot you chose on purpose, add --no-check-valid-until: the Release "
			 "file is still checked against Debian's key, only its age is not. On a live mirror "
			 "an expired Release means the mirror is stale or is replaying an old archive (with "
			 "its old security holes): use another --mirror instead",
			 suite);
	} else if ((at = find(text, "Clearsigned file isn't valid, got "))) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "the mirror '%s' answered with something that is not a Debian archive (a captive "
			 "portal or a login page?): open %s/dists/%s/InRelease in a browser, log in to the "
			 "network if it asks, or give another --mirror",
			 mirror, mirror, suite);
	} else if ((at = find(text, "407  Proxy Authentication Required"))) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "a proxy between this machine and '%s' wants a login: give it to apt as "
			 "http_proxy=http://USER:PASSWORD@PROXY:PORT/ in the environment (or "
			 "Acquire::http::Proxy in /etc/apt/apt.conf.d/), or give a --mirror the proxy lets through",
			 mirror);
	} else if ((at = strstr(text, "E: Unable to locate package ")) &&
		   sscanf(at, "E: Unable to locate package %255s", name) == 1) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "Debian '%s' at '%s' has no package '%s': check the name in the recipe (a layer's "
			 "\"packages\"), or choose a suite that has it with --suite",
			 suite, mirror, name);
	} else if ((at = strstr(text, "E: Package '")) && strstr(at, "' has no installation candidate") &&
		   sscanf(at, "E: Package '%255[^']'", name) == 1) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "Debian '%s' at '%s' knows '%s' but has no version of it to install (removed, or "
			 "only in another suite or architecture): take it out of the recipe, or choose "
			 "another --suite",
			 suite, mirror, name);
	} else if ((at = strstr(text, "subprocess returned error exit status")) &&
		   (strstr(text, "dpkg: error processing package") != NULL)) {
		/* " installed foo package post-installation script subprocess
		 * returned error exit status 1" */
		line_at(text, at, cause, cause_len);
		char *p = cause;
		while (*p == ' ')
			p++;
		memmove(cause, p, strlen(p) + 1);
		snprintf(fix, fix_len,
			 "a package's maintainer script failed inside the new system; the lines before "
			 "\"dpkg: error processing package\" in the log are the script's own output");
	} else {
		/* The first E: line that is not a consequence of another; else
		 * the first E: line. */
		const char *first = NULL;
		for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
			if (strncmp(l, "E: ", 3) != 0)
				continue;
			if (!first)
				first = l;
			if (!consequence(l)) {
				first = l;
				break;
			}
		}
		if (first)
			line_at(text, first, cause, cause_len);
	}
}

void diagnose_apt_failure(const char *tool, int status, const char *log_path,
			  const struct diagnose_hints *h, char *err, size_t errlen)
{
	char cause[512] = "", fix[1024] = "";
	_cleanup_free_ char *text = NULL;
	int fd = open(log_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		off_t from = end > LOG_TAIL ? end - LOG_TAIL : 0;
		text = xmalloc(LOG_TAIL + 1);
		ssize_t n = pread(fd, text, LOG_TAIL, from);
		text[n > 0 ? n : 0] = '\0';
		close(fd);
		diagnose_apt_text(text, h, cause, sizeof(cause), fix, sizeof(fix));
	}
	/* The log lives in the cache too: when the cache filled up, the
	 * tool's words may not have made it there. */
	struct statvfs st;
	if (!strstr(cause, "No space left on device") && h->cache_dir && statvfs(h->cache_dir, &st) == 0 &&
	    (uint64_t)st.f_bavail * st.f_frsize < CACHE_NEARLY_FULL) {
		snprintf(cause, sizeof(cause), "the cache is full");
		no_space(cause, h, fix, sizeof(fix));
	}
	snprintf(err, errlen, "%s failed (exit %d)%s%s%s%s\n  its log is '%s'", tool, status,
		 cause[0] ? ": " : "", cause, fix[0] ? "\n  fix: " : "", fix, log_path);
}

/* A size as a recipe writes it: "4G", "600M". */
static void recipe_size(uint64_t n, char *out, size_t len)
{
	if (n && n % (1ULL << 30) == 0)
		snprintf(out, len, "%lluG", (unsigned long long)(n >> 30));
	else
		snprintf(out, len, "%lluM", (unsigned long long)((n + (1ULL << 20) - 1) >> 20));
}

/* The first place in TEXT where one of NEEDLES is. */
static const char *first_line_with(const char *text, const char *const *needles, size_t n)
{
	const char *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *at = strstr(text, needles[i]);
		if (at && (!best || at < best))
			best = at;
	}
	return best;
}

/* The commands grub's packages bring, as sh names a missing one. */
static const char *missing_grub_program(const char *text)
{
	static const char *const progs[] = {"grub-probe: not found", "grub-install: not found",
					    "update-grub: not found", "grub-mkconfig: not found",
					    "grub-probe: command not found", "grub-install: command not found",
					    "update-grub: command not found"};
	return first_line_with(text, progs, ELEMENTSOF(progs));
}

void diagnose_disk_text(const char *text, const struct diagnose_hints *h, char *cause, size_t cause_len,
			char *fix, size_t fix_len)
{
	const char *recipe = h->recipe_file ? h->recipe_file : "the recipe";
	const char *at;

	cause[0] = fix[0] = '\0';
	if ((at = strstr(text, "No space left on device"))) {
		line_at(text, at, cause, cause_len);
		char have[32], tree[32], want[32];
		/* ext4 gives every file whole 4 KiB blocks, and keeps inode
		 * tables and the reserved blocks: the tree's bytes, a block per
		 * entry, and a quarter more, in steps of 256M. */
		uint64_t need = (h->tree_bytes + h->tree_entries * 4096) / 4 * 5;
		need = (need + (256ULL << 20) - 1) / (256ULL << 20) * (256ULL << 20);
		if (need <= h->disk_size)
			need = h->disk_size + (256ULL << 20);
		recipe_size(h->disk_size, have, sizeof(have));
		human(h->tree_bytes, tree, sizeof(tree));
		recipe_size(need, want, sizeof(want));
		if (h->tree_bytes)
			snprintf(fix, fix_len,
				 "the root file system does not fit on the disk: '%s' has \"disk\": {\"size\": \"%s\"} "
				 "and the tree is about %s in %llu files and directories; make disk.size at least "
				 "\"%s\" (or leave layers out with --without)",
				 recipe, have, tree, (unsigned long long)h->tree_entries, want);
		else
			snprintf(fix, fix_len,
				 "the root file system does not fit on the disk: '%s' has \"disk\": {\"size\": \"%s\"}; "
				 "make disk.size bigger (or leave layers out with --without)",
				 recipe, have);
	} else if ((at = missing_grub_program(text))) {
		line_at(text, at, cause, cause_len);
		snprintf(fix, fix_len,
			 "the image has no grub: grub-probe, grub-install and update-grub come with the package "
			 "grub-pc, which '%s' must have in its \"packages\" (with a kernel, linux-image-amd64)",
			 recipe);
	} else if ((at = strstr(text, "grub-install: error: ")) || (at = strstr(text, "grub-probe: error: ")) ||
		   (at = strstr(text, "grub-mkconfig: error: "))) {
		line_at(text, at, cause, cause_len);
		if (strstr(cause, "/usr/lib/grub/i386-pc"))
			snprintf(fix, fix_len,
				 "the image has grub-install but not grub-pc's BIOS boot files (/usr/lib/grub/i386-pc): "
				 "'%s' must have \"grub-pc\" in its \"packages\" (grub2-common or grub-efi-* alone "
				 "cannot boot a droplet)",
				 recipe);
	} else {
		/* The first line that says it is an error, else the last line. */
		static const char *const errs[] = {"error: ", "Error: ", "E: ", " not found", "failed",
						   "cannot ", "Cannot ", "Could not ", "could not "};
		at = first_line_with(text, errs, ELEMENTSOF(errs));
		if (!at) {
			const char *e = text + strlen(text);
			while (e > text && (e[-1] == '\n' || e[-1] == ' '))
				e--;
			at = e > text ? e - 1 : NULL;
		}
		if (at)
			line_at(text, at, cause, cause_len);
	}
}

void diagnose_cache_full(const struct diagnose_hints *h, char *fix, size_t fix_len)
{
	no_space("", h, fix, fix_len);
}

void diagnose_disk_failure(const char *log_path, const struct diagnose_hints *h, const char *whole, char *err,
			   size_t errlen)
{
	/* "WHAT: TEXT": WHAT is mkmesh's, TEXT the tool's. */
	char *sep = strstr(err, ": ");
	if (!sep)
		return;
	_cleanup_free_ char *what = xasprintf("%.*s", (int)(sep - err), err);
	_cleanup_free_ char *text = xstrdup(whole ? whole : sep + 2);
	char cause[512], fix[1024];
	diagnose_disk_text(text, h, cause, sizeof(cause), fix, sizeof(fix));
	/* The disk is a sparse file in the cache: when the cache filled up,
	 * the appliance's writes failed too. */
	struct statvfs st;
	if (strstr(cause, "No space left on device") && h->cache_dir && statvfs(h->cache_dir, &st) == 0 &&
	    (uint64_t)st.f_bavail * st.f_frsize < CACHE_NEARLY_FULL)
		no_space("", h, fix, sizeof(fix));
	bool many = strchr(text, '\n') && text[strcspn(text, "\n") + 1] != '\0';
	if (!many && !fix[0])
		return;
	bool logged = false;
	if (log_path) {
		_cleanup_free_ char *logged_text = xasprintf("mkmesh: %s failed:\n%s%s", what, text,
						       text[0] && text[strlen(text) - 1] == '\n' ? "" : "\n");
		logged = mk_write_file_atomic(log_path, logged_text, strlen(logged_text), 0644) == 0;
	}
	snprintf(err, errlen, "%s: %s%s%s%s%s%s", what, cause[0] ? cause : text, fix[0] ? "\n  fix: " : "",
		 fix, logged ? "\n  its log is '" : "", logged ? log_path : "", logged ? "'" : "");
}

void diagnose_output_full(const char *dir, const char *what, uint64_t need, char *fix, size_t fix_len)
{
	struct statvfs st;
	char avail[32] = "?", total[32] = "?", needed[96] = "";
	if (statvfs(dir, &st) == 0) {
		human((uint64_t)st.f_bavail * st.f_frsize, avail, sizeof(avail));
		human((uint64_t)st.f_blocks * st.f_frsize, total, sizeof(total));
	}
	if (need) {
		char n[32];
		human(need, n, sizeof(n));
		snprintf(needed, sizeof(needed), "%s needs about %s there, and ", what, n);
	}
	snprintf(fix, fix_len,
		 "the output directory '%s' is full: %s%s of %s is free (nothing half-written was left "
		 "in it); free space there, or give --out DIR on a bigger disk",
		 dir, needed, avail, total);
}
