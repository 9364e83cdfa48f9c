/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Downloads with libcurl: reachability probes before long work starts, and
 * files fetched into a content-addressed cache and verified by sha256. */
#ifndef MK_FETCH_H
#define MK_FETCH_H

#include <stddef.h>

/* Checks that URL answers with what looks like a Debian Release file (its
 * first bytes are a field, not a captive portal's page); *STATUS is the
 * HTTP status (0 when none came). The error carries curl's own words. */
int fetch_probe_release(const char *url, long *status, char *err, size_t errlen);

/* Makes sure CACHE/artifacts/SHA256 holds the file that URL names, verified.
 * A file named like the URL's last component in ARTIFACTS_DIR (may be NULL)
 * stands in for the download. On success *path is the cached file. */
int fetch_artifact(const char *url, const char *sha256, const char *cache_dir,
		   const char *artifacts_dir, char **path, char *err, size_t errlen);

/* Fetches what URL names, unverified (signatures, keys: checked by their
 * own means), into CACHE/artifacts/NAME. */
int fetch_file(const char *url, const char *name, const char *cache_dir, const char *artifacts_dir,
	       char **path, char *err, size_t errlen);

/* Checks a detached OpenPGP signature with gpgv against KEY (a public key
 * file, binary or armored) and that the key's primary fingerprint is
 * FINGERPRINT. */
int fetch_verify_signature(const char *data, const char *sig, const char *key,
			   const char *fingerprint, char *err, size_t errlen);

/* Writes KEY (armored or not) to DEST as a binary keyring, which apt takes
 * by signed-by= when the name ends in .gpg. */
int fetch_keyring(const char *key, const char *dest, char *err, size_t errlen);

/* Checks that the OpenPGP key file KEY has the primary key FINGERPRINT. */
int fetch_check_key(const char *key, const char *fingerprint, char *err, size_t errlen);

#endif
