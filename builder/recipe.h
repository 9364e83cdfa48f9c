/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Recipes: a target file (recipes/<target>.json) and the layer files it
 * names (recipes/layers/<layer>.json), loaded with jansson and validated
 * before any work starts. Every error names the file and the JSON path. */
#ifndef MK_RECIPE_H
#define MK_RECIPE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* Owner and mode for overlay paths matching a glob (relative to the overlay). */
struct recipe_file_attr {
	char *glob;
	int mode;        /* -1: keep the default */
	long uid, gid;   /* -1: root */
};

/* A file the build downloads and verifies (cjdns, Element, ...). */
struct recipe_artifact {
	char *name;
	char *url;
	char *sha256;      /* NULL: trusted by its signature alone */
	char *dest;        /* path in the image */
	int mode;
	bool unpack;       /* a tarball unpacked into dest (a directory) */
	char *arch;        /* only for this architecture; NULL: all */
	char *sig_url;     /* optional detached OpenPGP signature */
	char *sig_key;     /* the public key, a file in the recipe tree, or */
	char *sig_key_url; /* downloaded, checked against the fingerprint */
	char *sig_fingerprint; /* its primary key's fingerprint, pinned */
};

/* An extra apt repository (packages.matrix.org), with its key pinned. */
struct recipe_apt_source {
	char *name;
	char *uri;
	char *suite;       /* NULL: the target's suite */
	struct strv components;
	char *key_url;
	char *key_fingerprint;
};

/* Packages that depend on the suite or architecture: the first variant
 * that matches the build is used. */
struct recipe_variant {
	struct strv suites;  /* empty: any */
	struct strv arches;  /* empty: any */
	struct strv packages;
	struct recipe_apt_source *sources;
	size_t n_sources;
};

struct recipe_layer {
	char *name;
	char *file;        /* as given, for messages */
	char *description;
	bool optional;
	struct strv requires;
	struct strv packages;
	struct strv enable;     /* systemd units from the overlay to enable */
	char *overlay;          /* directory, or NULL when the layer has none */
	struct recipe_file_attr *attrs;
	size_t n_attrs;
	struct recipe_artifact *artifacts;
	size_t n_artifacts;
	struct recipe_variant *variants;
	size_t n_variants;
	const struct recipe_variant *variant; /* the one chosen for this build */
};

struct recipe_disk {
	uint64_t size;          /* bytes */
	char *table;            /* "mbr" */
	char *root_label;
	char *root_fs;          /* "ext4" */
	uint64_t firmware_size; /* bytes of a leading FAT partition, 0 = none */
	char *firmware_label;
};

struct recipe {
	char *dir;              /* the recipe tree */
	char *name;
	char *file;
	char *description;
	char *kind;             /* which target handler builds it */
	char *arch;
	char *suite;
	char *mirror;
	struct strv components;
	bool check_valid_until;
	struct strv packages;   /* the target's own (kernel, bootloader) */
	char *kernel_cmdline;
	struct recipe_disk disk;
	char *compress;         /* "gzip", "zstd", "xz" */
	struct strv default_layers;
	struct strv optional_layers;
	/* Files put into the root file system before any package is installed
	 * (e.g. /etc/default/raspi-firmware, read by the package's postinst). */
	struct strv setup_paths;   /* in the image, relative */
	struct strv setup_sources; /* on the host, under overlays/ */
	/* "name=version" of every package, from a manifest (--from-manifest):
	 * apt installs exactly these. Empty: apt chooses. */
	struct strv pins;
	/* Resolved: the layers of this build, dependencies first, with their
	 * variant chosen and artifacts of other architectures dropped. */
	struct recipe_layer **layers;
	size_t n_layers;
};

struct recipe_options {
	const char *suite;      /* overrides the target's */
	const char *mirror;
	const char *compress;   /* overrides the target's ("gzip", "zstd", "xz") */
	const struct strv *with;
	const struct strv *without;
	int check_valid_until;  /* -1: the recipe decides */
};

/* Loads DIR/TARGET.json and its layers. On error returns a negative errno
 * (-MK_ERR_RECIPE for bad content) with a message in err. */
int recipe_load(const char *dir, const char *target, const struct recipe_options *opts,
		struct recipe **out, char *err, size_t errlen);
void recipe_free(struct recipe *r);

/* Loads one layer file, for `mkmesh list` and tests. */
int recipe_layer_load(const char *dir, const char *name, struct recipe_layer **out,
		      char *err, size_t errlen);
void recipe_layer_free(struct recipe_layer *l);

/* Names of the targets (DIR/NAME.json) and layers (DIR/layers/NAME.json). */
int recipe_list(const char *dir, struct strv *targets, struct strv *layers);

/* All apt sources the chosen variants add, in layer order. */
size_t recipe_apt_sources(const struct recipe *r, const struct recipe_apt_source **out, size_t max);

/* All packages of the build, sorted and unique. */
void recipe_all_packages(const struct recipe *r, struct strv *out);

/* Parses "4G", "512M", "1048576". Returns -EINVAL on junk. */
int recipe_parse_size(const char *s, uint64_t *out);

#endif
