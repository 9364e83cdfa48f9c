/* SPDX-License-Identifier: GPL-3.0-or-later */
/* When a tool under mkmesh fails (mmdebstrap, apt, dpkg's maintainer
 * scripts): the one line of the tool's own output that says why, and what
 * to do about it where mkmesh knows, in mkmesh's own error. */
#ifndef MK_DIAGNOSE_H
#define MK_DIAGNOSE_H

#include <stddef.h>
#include <stdint.h>

struct diagnose_hints {
	const char *suite, *mirror; /* the build's */
	const char *cache_dir;      /* where the root file system and apt's downloads go */
	uint64_t disk_size;         /* about what a build needs there at most */
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

#endif
