/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * What `mkmesh deploy` and `mkmesh seed` read from their command line the
 * same way, so that both give a machine the same user-data and refuse the
 * same inputs with the same words: the site file (checked, its problems
 * logged), the --ssh-key public keys, and the default host name.
 * Command code: these log their errors (mk_log_error), as cmd_*.c do.
 */
#ifndef MK_SITE_ARGS_H
#define MK_SITE_ARGS_H

#include <stdbool.h>

#include "../builder/util.h"
#include "site.h"

/* Loads and checks --site PATH; on failure logs every problem and what to
 * read, and returns -EINVAL (bad file) or -errno (cannot read). */
int site_args_load(struct site *s, const char *path);

/* A line that starts like an OpenSSH public key: ssh-, ecdsa- or sk-. */
bool site_args_is_pubkey(const char *s);

/* An OpenSSH public key line: TYPE, blanks, base64 (at least 16 characters,
 * '=' only at its end), then an optional comment; site_text_valid. */
bool site_args_pubkey_valid(const char *line);

/*
 * --ssh-key KEY: a file of public keys (~/.ssh/id_ed25519.pub; other lines
 * are skipped) or one key line, pushed onto KEYS. 0, or -EINVAL after
 * logging why (a private key, a file without a key, a bad key line,
 * unreadable), or -ENOENT without logging when KEY is neither an existing
 * file nor a key line (deploy then tries a key id of the account).
 */
int site_args_add_key(struct strv *keys, const char *key);

/* The droplet name deploy gives, and the host name the machine takes:
 * "mkmesh-" and DOMAIN with '-' for '.'. */
char *site_args_default_name(const char *domain);

/* A host name cloud-init can set: labels of a-z, 0-9 and '-' (not at
 * either end), 1..63 each, at most 253 in all. */
bool site_args_hostname_valid(const char *h);

#endif
