/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sbom.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

/* Debian's short names (copyright-format 1.0) that differ from SPDX's. */
static const struct {
	const char *dep5, *spdx;
} renames[] = {
	{"Expat", "MIT"},
	{"Apache-2", "Apache-2.0"},
	{"Artistic", "Artistic-1.0-Perl"},
	{"BSD-1-clause", "BSD-1-Clause"},
	{"BSD-2-clause", "BSD-2-Clause"},
	{"BSD-3-clause", "BSD-3-Clause"},
	{"BSD-4-clause", "BSD-4-Clause"},
	{"CC0", "CC0-1.0"},
	{"PSF-2", "PSF-2.0"},
	{"SIL-OFL-1.1", "OFL-1.1"},
	{"Zope-2.1", "ZPL-2.1"},
};

/* SPDX identifiers that Debian's copyright files use as they are. */
static const char *const same[] = {
	"0BSD", "Apache-1.1", "Apache-2.0", "Artistic-1.0", "Artistic-2.0", "Beerware", "BSL-1.0",
	"bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "curl",
	"FSFAP", "FSFUL", "FSFULLR", "FTL", "HPND", "ICU", "IJG", "ISC", "Libpng", "MIT", "MIT-0",
	"MPL-1.1", "MPL-2.0", "NTP", "OFL-1.1", "OpenSSL", "PHP-3.01", "PSF-2.0", "Python-2.0", "Ruby",
	"Sleepycat", "TCL", "Unicode-DFS-2016", "Unlicense", "W3C", "WTFPL", "X11", "Zlib", "ZPL-2.1",
};

/* GPL-2+, LGPL-2.1, AGPL-3+, GFDL-1.3+ (and the SPDX spellings). */
static char *map_gnu(const char *t)
{
	static const char *const families[] = {"AGPL", "LGPL", "GPL", "GFDL"};
	for (size_t i = 0; i < ELEMENTSOF(families); i++) {
		size_t fl = strlen(families[i]);
		if (strncasecmp(t, families[i], fl) != 0 || t[fl] != '-' || !isdigit((unsigned char)t[fl + 1]))
			continue;
		const char *v = t + fl + 1;
		size_t vl = strspn(v, "0123456789.");
		const char *rest = v + vl;
		bool later;
		if (!strcmp(rest, "+") || !strcasecmp(rest, "-or-later"))
			later = true;
		else if (!*rest || !strcasecmp(rest, "-only"))
			later = false;
		else
			return NULL;
		_cleanup_free_ char *ver = strndup(v, vl);
		if (!strchr(ver, '.')) {
			free(ver);
			ver = xasprintf("%.*s.0", (int)vl, v);
		}
		/* Versions that exist: GPL 1-3, LGPL 2.0/2.1/3, AGPL 1/3, GFDL 1.1-1.3. */
		static const char *const known[] = {"GPL-1.0", "GPL-2.0", "GPL-3.0", "LGPL-2.0", "LGPL-2.1",
						    "LGPL-3.0", "AGPL-1.0", "AGPL-3.0", "GFDL-1.1",
						    "GFDL-1.2", "GFDL-1.3"};
		_cleanup_free_ char *id = xasprintf("%s-%s", families[i], ver);
		for (size_t k = 0; k < ELEMENTSOF(known); k++)
			if (!strcmp(known[k], id))
				return xasprintf("%s-%s", id, later ? "or-later" : "only");
		return NULL;
	}
	return NULL;
}

static char *map_id(const char *t)
{
	for (size_t i = 0; i < ELEMENTSOF(renames); i++)
		if (!strcasecmp(t, renames[i].dep5))
			return xstrdup(renames[i].spdx);
	for (size_t i = 0; i < ELEMENTSOF(same); i++)
		if (!strcasecmp(t, same[i]))
			return xstrdup(same[i]);
	return map_gnu(t);
}

char *sbom_spdx_license(const char *dep5)
{
	/* "A or B, and C" is (A or B) and C in Debian's files, which SPDX's
	 * precedence would read otherwise: not guessed at either. */
	if (!dep5 || !*dep5 || strchr(dep5, ','))
		return NULL;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	bool ok = true, want_id = true;
	int depth = 0;
	if (!f)
		abort();
	for (const char *p = dep5; *p && ok;) {
		if (*p == ' ') {
			p++;
			continue;
		}
		if (*p == '(' || *p == ')') {
			depth += *p == '(' ? 1 : -1;
			ok = depth >= 0 && (*p == '(' ? want_id : !want_id);
			fputc(*p++, f);
			continue;
		}
		size_t n = strcspn(p, " ,()");
		_cleanup_free_ char *tok = strndup(p, n);
		p += n;
		if (!strcasecmp(tok, "and") || !strcasecmp(tok, "or")) {
			ok = !want_id;
			fprintf(f, " %s ", !strcasecmp(tok, "and") ? "AND" : "OR");
			want_id = true;
			continue;
		}
		/* "GPL-2+ with OpenSSL exception" and names we do not know:
		 * no identifier rather than a wrong one. */
		_cleanup_free_ char *id = want_id ? map_id(tok) : NULL;
		if (!id) {
			ok = false;
			break;
		}
		fputs(id, f);
		want_id = false;
	}
	fclose(f);
	if (!ok || want_id || depth != 0) {
		free(out);
		return NULL;
	}
	return out;
}

static void percent_encode(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~')
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

char *sbom_purl(const char *name, const char *version, const char *arch)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	fputs("pkg:deb/debian/", f);
	percent_encode(f, name);
	fputc('@', f);
	percent_encode(f, version);
	fputs("?arch=", f);
	percent_encode(f, arch);
	fclose(f);
	return out;
}

/* SPDXIDs hold letters, digits, '.' and '-' only: "libstdc++6" ->
 * "libstdcplusplus6", anything else becomes '-'. */
static void id_part(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '+')
			fputs("plus", f);
		else
			fputc(isalnum((unsigned char)*s) || *s == '.' || *s == '-' ? *s : '-', f);
	}
}

static char *make_id(const char *kind, const char *a, const char *b)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		abort();
	fprintf(f, "SPDXRef-%s-", kind);
	id_part(f, a);
	fputc('-', f);
	id_part(f, b);
	fclose(f);
	return out;
}

static json_t *sha256_checksums(const char *sha256)
{
	return json_pack("[{s:s, s:s}]", "algorithm", "SHA256", "checksumValue", sha256);
}

static int cmp_by_id(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	return strcmp(json_string_value(json_object_get(x, "SPDXID")),
		      json_string_value(json_object_get(y, "SPDXID")));
}

static int cmp_rel(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(json_string_value(json_object_get(x, "relationshipType")),
		       json_string_value(json_object_get(y, "relationshipType")));
	return c ? c
		 : strcmp(json_string_value(json_object_get(x, "relatedSpdxElement")),
			  json_string_value(json_object_get(y, "relatedSpdxElement")));
}

/* Arrays in SPDXID order, so that the document does not depend on the
 * order the manifest happens to list things in. */
static json_t *sorted(json_t **items, size_t n, int (*cmp)(const void *, const void *))
{
	json_t *a = json_array();
	if (n)
		qsort(items, n, sizeof(*items), cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, items[i]);
	return a;
}

static json_t *relationship(const char *from, const char *type, const char *to)
{
	return json_pack("{s:s, s:s, s:s}", "spdxElementId", from, "relationshipType", type,
			 "relatedSpdxElement", to);
}

static const char *str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

json_t *sbom_from_manifest(const json_t *m, char *err, size_t errlen)
{
	const json_t *image = json_object_get(m, "image"), *pkgs = json_object_get(m, "packages"),
		     *arts = json_object_get(m, "artifacts");
	const char *target = str(m, "target"), *version = str(m, "version"), *file = str(image, "file"),
		   *sha = str(image, "sha256"), *built_by = str(m, "built_by"), *mirror = str(m, "mirror");
	json_t *sde = json_object_get(m, "source_date_epoch");
	const char *missing = !target ? "target" : !version ? "version" : !file ? "image.file"
			      : !sha ? "image.sha256" : !json_is_integer(sde) ? "source_date_epoch"
			      : !json_is_array(pkgs) ? "packages" : NULL;
	if (missing) {
		snprintf(err, errlen, "the manifest has no '%s'", missing);
		return NULL;
	}

	size_t n_pkgs = json_array_size(pkgs), n_arts = json_array_size(arts), n = 0, nr = 0;
	json_t **items = xcalloc(n_pkgs + n_arts + 1, sizeof(*items));
	json_t **rels = xcalloc(n_pkgs + n_arts, sizeof(*rels));
	for (size_t i = 0; i < n_pkgs; i++) {
		const json_t *p = json_array_get(pkgs, i);
		const char *name = str(p, "name"), *ver = str(p, "version"), *arch = str(p, "arch"),
			   *url = str(p, "url"), *psha = str(p, "sha256");
		if (!name || !ver || !arch) {
			snprintf(err, errlen, "the manifest's packages[%zu] has no name, version or arch", i);
			for (size_t k = 0; k < n; k++)
				json_decref(items[k]);
			for (size_t k = 0; k < nr; k++)
				json_decref(rels[k]);
			free(items);
			free(rels);
			return NULL;
		}
		bool debian = url && ((mirror && !strncmp(url, mirror, strlen(mirror))) ||
				      strstr(url, ".debian.org/"));
		_cleanup_free_ char *id = make_id("deb", name, arch);
		_cleanup_free_ char *purl = sbom_purl(name, ver, arch);
		_cleanup_free_ char *license = sbom_spdx_license(str(p, "license"));
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:s, s:s, s:[{s:s, s:s, s:s}]}",
				      "SPDXID", id, "name", name, "versionInfo", ver, "supplier",
				      debian ? "Organization: Debian" : "NOASSERTION", "downloadLocation",
				      url ? url : "NOASSERTION", "filesAnalyzed", 0, "licenseDeclared",
				      license ? license : "NOASSERTION", "licenseConcluded", "NOASSERTION",
				      "copyrightText", "NOASSERTION", "externalRefs", "referenceCategory",
				      "PACKAGE-MANAGER", "referenceType", "purl", "referenceLocator", purl);
		if (psha)
			json_object_set_new(o, "checksums", sha256_checksums(psha));
		if (str(p, "source") && strcmp(str(p, "source"), name) != 0) {
			_cleanup_free_ char *info = xasprintf("built from the Debian source package %s",
							      str(p, "source"));
			json_object_set_new(o, "sourceInfo", json_string(info));
		}
		items[n++] = o;
		rels[nr++] = relationship(SBOM_IMAGE_ID, "CONTAINS", id);
	}
	for (size_t i = 0; i < n_arts; i++) {
		const json_t *a = json_array_get(arts, i);
		const char *name = str(a, "name"), *layer = str(a, "layer"), *url = str(a, "url"),
			   *asha = str(a, "sha256");
		if (!name)
			continue;
		_cleanup_free_ char *id = make_id("artifact", layer ? layer : "layer", name);
		json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:s, s:s}", "SPDXID", id, "name", name,
				      "downloadLocation", url ? url : "NOASSERTION", "filesAnalyzed", 0,
				      "licenseDeclared", "NOASSERTION", "licenseConcluded", "NOASSERTION",
				      "copyrightText", "NOASSERTION");
		if (asha)
			json_object_set_new(o, "checksums", sha256_checksums(asha));
		items[n++] = o;
		rels[nr++] = relationship(SBOM_IMAGE_ID, "CONTAINS", id);
	}

	_cleanup_free_ char *image_name = xasprintf("mkmesh-%s", target);
	json_t *top = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:s, s:s, s:s, s:s}", "SPDXID",
				SBOM_IMAGE_ID, "name", image_name, "versionInfo", version, "packageFileName",
				file, "downloadLocation", "NOASSERTION", "filesAnalyzed", 0, "checksums",
				sha256_checksums(sha), "primaryPackagePurpose", "OPERATING_SYSTEM",
				"licenseDeclared", "NOASSERTION", "licenseConcluded", "NOASSERTION",
				"copyrightText", "NOASSERTION");
	json_t *packages = sorted(items, n, cmp_by_id);
	json_array_insert_new(packages, 0, top);
	json_t *relationships = sorted(rels, nr, cmp_rel);
	json_array_insert_new(relationships, 0, relationship("SPDXRef-DOCUMENT", "DESCRIBES", SBOM_IMAGE_ID));
	free(items);
	free(rels);

	/* ISO 8601 in UTC: the build's SOURCE_DATE_EPOCH, not the clock. */
	time_t t = (time_t)json_integer_value(sde);
	struct tm tm;
	char created[32];
	gmtime_r(&t, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	/* "mkmesh 1.2.0" -> "Tool: mkmesh-1.2.0" (the spec's form: name-version) */
	_cleanup_free_ char *tool = xasprintf("Tool: mkmesh-%s",
					      built_by && !strncmp(built_by, "mkmesh ", 7) ? built_by + 7
					      : built_by ? built_by : "unknown");
	/* Unique to this image, and the same for the same image. */
	_cleanup_free_ char *ns = xasprintf("https://spdx.org/spdxdocs/mkmesh-%s-%s-%s", target, version,
					    sha);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:[s]}, s:o, s:o}", "spdxVersion", "SPDX-2.3",
			 "dataLicense", "CC0-1.0", "SPDXID", "SPDXRef-DOCUMENT", "name", file,
			 "documentNamespace", ns, "creationInfo", "created", created, "creators", tool,
			 "packages", packages, "relationships", relationships);
}
