/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The strict grammars of the values mkmesh takes from outside (manifests,
 * recipes, the command line, the environment) and then uses in file names,
 * URLs, apt's files, hooks and generated configuration. Each check returns
 * NULL when S is one, else a short description of what was expected, for
 * the caller's "FILE: JSON.PATH: ..." message. Only printable ASCII is ever
 * accepted: no newline, NEL or other line break can change a value's
 * meaning on its way. */
#ifndef MK_GRAMMAR_H
#define MK_GRAMMAR_H

#include <stdbool.h>

/* Debian policy 5.6.12: [epoch:]upstream[-revision]. */
const char *grammar_debian_version(const char *s);
/* Debian policy 5.6.1: [a-z0-9][a-z0-9+.-]+ */
const char *grammar_debian_package(const char *s);
/* A dpkg architecture name: amd64, arm64, all. */
const char *grammar_debian_arch(const char *s);
/* A suite or codename: trixie, sid, bookworm-backports, trixie-security. */
const char *grammar_debian_suite(const char *s);
/* An archive component: main, non-free-firmware. */
const char *grammar_debian_component(const char *s);
/* An http(s) URL of plain characters: host, optional port, path; no
 * query, fragment, user info, quotes, spaces or shell characters. */
const char *grammar_http_url(const char *s);
/* 64 lower-case hex digits. */
const char *grammar_sha256(const char *s);
/* One path component: no '/', not "." or "..", no leading '-'. */
const char *grammar_file_name(const char *s);
/* An image version: [A-Za-z0-9][A-Za-z0-9._+~-]*, at most 64. */
const char *grammar_image_version(const char *s);
/* A layer or target name: [a-z][a-z0-9-]*, at most 32. */
const char *grammar_name(const char *s);
/* A local path mkmesh passes to tools: printable ASCII without quotes,
 * backslashes, '$' or '`' (they are never pasted into shell, but apt's
 * and mmdebstrap's own files and hooks have quoting of their own). */
const char *grammar_local_path(const char *s);

#endif
