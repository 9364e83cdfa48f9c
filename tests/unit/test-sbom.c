/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The SBOM: Debian license names to SPDX expressions, purls, and the SPDX
 * document made from a small manifest: its fixed fields, the image it
 * describes, one package per Debian package and artifact, and the same
 * bytes from the same manifest in any order. */
#include <jansson.h>

#include "sbom.h"
#include "tests.h"
#include "util.h"

static void license_is(const char *dep5, const char *want, int line)
{
	char *got = sbom_spdx_license(dep5);
	if ((want == NULL) != (got == NULL) || (want && strcmp(want, got) != 0)) {
		fprintf(stderr, "  line %d: '%s' -> '%s', expected '%s'\n", line, dep5, got ? got : "(null)",
			want ? want : "(null)");
		mk_failed_current = 1;
	}
	free(got);
}
#define LICENSE_IS(a, b) license_is(a, b, __LINE__)

TEST(licenses_map_to_spdx)
{
	LICENSE_IS("GPL-2+", "GPL-2.0-or-later");
	LICENSE_IS("GPL-2", "GPL-2.0-only");
	LICENSE_IS("LGPL-2.1+", "LGPL-2.1-or-later");
	LICENSE_IS("GPL-3.0-or-later", "GPL-3.0-or-later");
	LICENSE_IS("Expat", "MIT");
	LICENSE_IS("BSD-3-clause AND Expat AND GPL-2+", "BSD-3-Clause AND MIT AND GPL-2.0-or-later");
	LICENSE_IS("Artistic AND (GPL-1+ or Artistic)", "Artistic-1.0-Perl AND (GPL-1.0-or-later OR Artistic-1.0-Perl)");
	LICENSE_IS("GPL-2+ or Artistic", "GPL-2.0-or-later OR Artistic-1.0-Perl");
	LICENSE_IS("public-domain", NULL);         /* no SPDX id: no guess */
	LICENSE_IS("GPL-2+ AND public-domain", NULL);
	LICENSE_IS("GPL-2+ with OpenSSL exception", NULL);
	LICENSE_IS("GPL-7+", NULL);               /* no such version */
	LICENSE_IS("GPL-2+ AND", NULL);
	LICENSE_IS("(GPL-2+", NULL);
	LICENSE_IS("GPL-1+ or Artistic, and Expat", NULL); /* Debian's precedence, not SPDX's */
	LICENSE_IS("", NULL);
	LICENSE_IS(NULL, NULL);
}

TEST(purl_is_percent_encoded)
{
	char *p = sbom_purl("libstdc++6", "1:14.2.0-19", "amd64");
	ASSERT_STREQ(p, "pkg:deb/debian/libstdc%2B%2B6@1%3A14.2.0-19?arch=amd64");
	free(p);
	p = sbom_purl("bash", "5.2.37-2+b5", "arm64");
	ASSERT_STREQ(p, "pkg:deb/debian/bash@5.2.37-2%2Bb5?arch=arm64");
	free(p);
}

static const char manifest_text[] =
	"{\"target\": \"droplet\", \"version\": \"1.0\", \"arch\": \"amd64\", \"suite\": \"trixie\","
	" \"mirror\": \"http://deb.debian.org/debian\", \"source_date_epoch\": 1700000000,"
	" \"built_by\": \"mkmesh 1.0\","
	" \"image\": {\"file\": \"mkmesh-droplet-1.0-amd64.raw.gz\", \"sha256\": \"%s\", \"size\": 10},"
	" \"packages\": [%s],"
	" \"artifacts\": [{\"layer\": \"cjdns\", \"name\": \"cjdroute\", \"url\": \"https://example.org/cjdroute\","
	" \"sha256\": \"bb\", \"size\": 1, \"signature_checked\": false}]}";
static const char pkg_bash[] =
	"{\"name\": \"bash\", \"version\": \"5.2\", \"arch\": \"amd64\", \"source\": \"bash\","
	" \"sha256\": \"aa\", \"url\": \"http://deb.debian.org/debian/pool/main/b/bash/bash_5.2_amd64.deb\","
	" \"license\": \"GPL-3+\"}";
static const char pkg_lib[] =
	"{\"name\": \"libstdc++6\", \"version\": \"1:14\", \"arch\": \"amd64\", \"source\": \"gcc-14\"}";

static json_t *manifest(const char *sha, const char *pkgs)
{
	char *text = xasprintf(manifest_text, sha, pkgs);
	json_t *m = json_loads(text, 0, NULL);
	free(text);
	return m;
}

static const json_t *package(const json_t *doc, const char *id)
{
	const json_t *pkgs = json_object_get(doc, "packages");
	for (size_t i = 0; i < json_array_size(pkgs); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(pkgs, i), "SPDXID")), id))
			return json_array_get(pkgs, i);
	return NULL;
}

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

TEST(document_from_manifest)
{
	char err[256];
	char *both = xasprintf("%s, %s", pkg_bash, pkg_lib);
	json_t *m = manifest(SHA, both);
	free(both);
	ASSERT_TRUE(m != NULL);
	json_t *doc = sbom_from_manifest(m, err, sizeof(err));
	ASSERT_TRUE(doc != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(doc, "spdxVersion")), "SPDX-2.3");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "dataLicense")), "CC0-1.0");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "SPDXID")), "SPDXRef-DOCUMENT");
	ASSERT_STREQ(json_string_value(json_object_get(json_object_get(doc, "creationInfo"), "created")),
		     "2023-11-14T22:13:20Z");
	ASSERT_STREQ(json_string_value(json_object_get(doc, "documentNamespace")),
		     "https://spdx.org/spdxdocs/mkmesh-droplet-1.0-" SHA);
	/* the image, two Debian packages, one artifact */
	ASSERT_EQ(json_array_size(json_object_get(doc, "packages")), 4);
	const json_t *img = json_array_get(json_object_get(doc, "packages"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(img, "SPDXID")), SBOM_IMAGE_ID);
	ASSERT_STREQ(json_string_value(json_object_get(img, "packageFileName")), "mkmesh-droplet-1.0-amd64.raw.gz");
	const json_t *rel0 = json_array_get(json_object_get(doc, "relationships"), 0);
	ASSERT_STREQ(json_string_value(json_object_get(rel0, "relationshipType")), "DESCRIBES");
	ASSERT_STREQ(json_string_value(json_object_get(rel0, "relatedSpdxElement")), SBOM_IMAGE_ID);
	ASSERT_EQ(json_array_size(json_object_get(doc, "relationships")), 4);

	const json_t *bash = package(doc, "SPDXRef-deb-bash-amd64");
	ASSERT_TRUE(bash != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(bash, "supplier")), "Organization: Debian");
	ASSERT_STREQ(json_string_value(json_object_get(bash, "licenseDeclared")), "GPL-3.0-or-later");
	ASSERT_STREQ(json_string_value(json_object_get(bash, "licenseConcluded")), "NOASSERTION");
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(bash, "checksums"), 0),
						       "checksumValue")), "aa");
	/* what the manifest does not know is NOASSERTION, not made up */
	const json_t *lib = package(doc, "SPDXRef-deb-libstdcplusplus6-amd64");
	ASSERT_TRUE(lib != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(lib, "downloadLocation")), "NOASSERTION");
	ASSERT_STREQ(json_string_value(json_object_get(lib, "supplier")), "NOASSERTION");
	ASSERT_STREQ(json_string_value(json_object_get(lib, "licenseDeclared")), "NOASSERTION");
	ASSERT_TRUE(json_object_get(lib, "checksums") == NULL);
	ASSERT_STREQ(json_string_value(json_object_get(json_array_get(json_object_get(lib, "externalRefs"), 0),
						       "referenceLocator")),
		     "pkg:deb/debian/libstdc%2B%2B6@1%3A14?arch=amd64");
	const json_t *art = package(doc, "SPDXRef-artifact-cjdns-cjdroute");
	ASSERT_TRUE(art != NULL);
	ASSERT_STREQ(json_string_value(json_object_get(art, "downloadLocation")), "https://example.org/cjdroute");
	json_decref(doc);
	json_decref(m);
}

TEST(same_manifest_same_bytes_in_any_order)
{
	char err[256];
	char *ab = xasprintf("%s, %s", pkg_bash, pkg_lib), *ba = xasprintf("%s, %s", pkg_lib, pkg_bash);
	json_t *m1 = manifest(SHA, ab), *m2 = manifest(SHA, ba);
	json_t *d1 = sbom_from_manifest(m1, err, sizeof(err)), *d2 = sbom_from_manifest(m2, err, sizeof(err));
	char *t1 = json_dumps(d1, JSON_SORT_KEYS | JSON_INDENT(2)), *t2 = json_dumps(d2, JSON_SORT_KEYS | JSON_INDENT(2));
	ASSERT_STREQ(t1, t2);
	free(t1);
	free(t2);
	free(ab);
	free(ba);
	json_decref(d1);
	json_decref(d2);
	json_decref(m1);
	json_decref(m2);
}

TEST(manifest_without_image_is_refused)
{
	char err[256] = "";
	json_t *m = json_loads("{\"target\": \"droplet\", \"version\": \"1\", \"packages\": []}", 0, NULL);
	ASSERT_TRUE(sbom_from_manifest(m, err, sizeof(err)) == NULL);
	ASSERT_STREQ(err, "the manifest has no 'image.file'");
	json_decref(m);
}
