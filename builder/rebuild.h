/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Rebuilds that match (mkmesh build TARGET --from-manifest FILE): the
 * manifest of an earlier build, read back, pins every input of a new one
 * (suite, mirror, layers, package versions, artifact hashes, the image
 * version and SOURCE_DATE_EPOCH), and what apt installed is checked against
 * it before the disk is made. */
#ifndef MK_REBUILD_H
#define MK_REBUILD_H

#include <jansson.h>
#include <time.h>

#include "compose.h"
#include "recipe.h"

struct rebuild_artifact {
	char *layer, *name, *url, *sha256;
};

struct rebuild {
	char *file;
	char *target, *arch, *suite, *mirror, *version, *compress;
	char *image_sha256;     /* of the image the manifest describes */
	time_t source_date_epoch;
	struct strv layers;     /* in the manifest's order */
	struct compose_package *packages; /* sorted by name */
	size_t n_packages;
	struct rebuild_artifact *artifacts;
	size_t n_artifacts;
};

/* Reads and checks PATH. Errors name the file and the JSON path. */
int rebuild_load(const char *path, struct rebuild *rb, char *err, size_t errlen);
void rebuild_release(struct rebuild *rb);

/* Refuses a manifest of another target or architecture than R's; makes the
 * --with/--without lists that give the manifest's layers from R's defaults. */
int rebuild_layer_options(const struct rebuild *rb, const struct recipe *r, struct strv *with,
			  struct strv *without, char *err, size_t errlen);

/* Pins R (loaded with those options): its layers must be the manifest's,
 * its artifacts take the manifest's URLs and hashes, and every package the
 * manifest lists is pinned to its version (recipe->pins). */
int rebuild_pin_recipe(const struct rebuild *rb, struct recipe *r, char *err, size_t errlen);

/* Compares what the rootfs holds (PKGS, sorted by name) with the manifest.
 * On a difference, err lists it and says where older versions are. */
int rebuild_check_packages(const struct rebuild *rb, const struct compose_package *pkgs, size_t n,
			   const char *mirror, char *err, size_t errlen);

/* Where older versions are: snapshot.debian.org, as a --mirror to give. */
char *rebuild_snapshot_hint(const struct rebuild *rb);

#endif
