/* SPDX-License-Identifier: GPL-3.0-or-later */
/* When a tool under mkmesh fails (mmdebstrap, apt, dpkg's maintainer
 * scripts; libguestfs and what runs in its appliance: mkfs, tar,
 * grub-install; a write into the output directory): the one line of the tool's own output that says why, and what
 * to do about it where mkmesh knows, in mkmesh's own error. */
#ifndef MK_DIAGNOSE_H
#define MK_DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>

struct diagnose_hints {
	const char *suite, *mirror; /* the build's */
	const char *cache_dir;      /* where the root file system and apt's downloads go */
	uint64_t disk_size;         /* the recipe's disk.size (about what a build needs in the cache) */
	/* the disk stage's */
	const char *recipe_file;    /* the target's recipe, where disk.size and packages are */
	uint64_t tree_bytes, tree_entries; /* the composed tree: bytes of files, entries */
};

/* Reads TEXT (an apt or mmdebstrap log) and writes the line that names the
 * cause into CAUSE ("" when none stands out) and the way out into FIX (""
 * when mkmesh knows none). */
void diagnose_apt_text(const char *text, const struct diagnose_hints *h, char *cause, size_t cause_len,
		       char *fix, size_t fix_len);

/* The error for TOOL that exited with STATUS, its output in LOG:
 *   TOOL failed (exit STATUS): CAUSE
 *     fix: FIX
 *     its log is 'LOG'                                                   */
void diagnose_apt_failure(const char *tool, int status, const char *log_path,
			  const struct diagnose_hints *h, char *err, size_t errlen);

/* Reads TEXT (libguestfs's error: the appliance's command and its stderr,
 * many lines) and writes the line that names the cause into CAUSE (the
 * first line that says "error" or "not found", else the last line) and the
 * fix into FIX ("" when mkmesh knows none): the root file system does not
 * fit on the disk (disk.size and the tree's size), grub's programs missing
 * from the image (the grub-pc package), grub-install's own error. */
void diagnose_disk_text(const char *text, const struct diagnose_hints *h, char *cause, size_t cause_len,
			char *fix, size_t fix_len);

/* ERR holds the disk stage's error, "WHAT: TEXT" (TEXT libguestfs's words,
 * perhaps many lines, cut to what ERR holds); WHOLE, when not NULL, is all
 * of TEXT. When TEXT is more than one line or names a cause mkmesh knows,
 * it goes whole to LOG_PATH and ERR becomes
 *   WHAT: CAUSE
 *     fix: FIX
 *     its log is 'LOG_PATH'                                              */
void diagnose_disk_failure(const char *log_path, const struct diagnose_hints *h, const char *whole, char *err,
			   size_t errlen);

/* The fix when the cache H->cache_dir is full (which, what it has free). */
void diagnose_cache_full(const struct diagnose_hints *h, char *fix, size_t fix_len);

/* The fix for a write into the output directory DIR that failed with
 * ENOSPC or EDQUOT: the directory, about NEED bytes WHAT ("the image")
 * needed (0: not known) and what DIR's file system has free now that the
 * partial file is gone. */
void diagnose_output_full(const char *dir, const char *what, uint64_t need, char *fix, size_t fix_len);

#endif
