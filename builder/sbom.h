/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SBOM: an SPDX 2.3 JSON document made from an image's manifest. The
 * image is the package the document DESCRIBES; it CONTAINS each Debian
 * package and each downloaded artifact. Nothing in it comes from the
 * clock or the machine, so the same manifest gives the same bytes. */
#ifndef MK_SBOM_H
#define MK_SBOM_H

#include <jansson.h>

/* The SPDX document for MANIFEST (as cmd_build writes it). On error
 * returns NULL with err naming the manifest field that is missing. */
json_t *sbom_from_manifest(const json_t *manifest, char *err, size_t errlen);

/* A Debian copyright file's license names ("GPL-2+ AND (Expat or BSD-3-clause)")
 * as an SPDX license expression ("GPL-2.0-or-later AND (MIT OR BSD-3-Clause)");
 * NULL when a name has no SPDX identifier we know (the SBOM then says
 * NOASSERTION, rather than guess). */
char *sbom_spdx_license(const char *dep5);

/* pkg:deb/debian/NAME@VERSION?arch=ARCH, percent-encoded as purl wants. */
char *sbom_purl(const char *name, const char *version, const char *arch);

/* The image package's SPDXID: the one verify looks for. */
#define SBOM_IMAGE_ID "SPDXRef-Image"

#endif
