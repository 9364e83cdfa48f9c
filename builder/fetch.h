/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Downloads with libcurl: reachability probes before long work starts, and
 * files fetched into a content-addressed cache and verified by sha256. */
#ifndef MK_FETCH_H
#define MK_FETCH_H

#include <stddef.h>

/* Checks that URL answers (HEAD, falling back to a ranged GET). The error
 * message carries curl's own words. */
int fetch_probe(const char *url, char *err, size_t errlen);

/* Makes sure CACHE/artifacts/SHA256 holds the file that URL names, verified.
 * A file named like the URL's last component in ARTIFACTS_DIR (may be NULL)
 * stands in for the download. On success *path is the cached file. */
int fetch_artifact(const char *url, const char *sha256, const char *cache_dir,
		   const char *artifacts_dir, char **path, char *err, size_t errlen);

#endif
