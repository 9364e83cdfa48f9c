/* SPDX-License-Identifier: GPL-3.0-or-later */
/* mkmesh build TARGET: the stage driver. Each stage is a module; this file
 * only runs them in order, times them and logs their one error. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "artifacts.h"
#include "bmap.h"
#include "commands.h"
#include "compose.h"
#include "diagnose.h"
#include "disk.h"
#include "fat.h"
#include "fetch.h"
#include "options.h"
#include "output.h"
#include "rebuild.h"
#include "recipe.h"
#include "rootfs.h"
#include "sbom.h"
#include "target.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh build TARGET [OPTIONS]\n"
		"\n"
		"Builds a disk image for TARGET ('mkmesh list' shows them): a Debian root file\n"
		"system made by mmdebstrap, the layers' files, a partitioned disk with a\n"
		"bootloader, compressed into the output directory with a manifest (packages with\n"
		"their source, .deb sha256, URL and license), an SPDX 2.3 SBOM and SHA256SUMS.\n"
		"Nothing instance-specific is in the image: keys and secrets are made on first boot.\n"
		"\n"
		"options:\n"
		"  --suite SUITE          Debian suite instead of the recipe's (e.g. sid)\n"
		"  --with LAYER[,LAYER]   add optional layers (e.g. --with yggdrasil)\n"
		"  --without LAYER[,..]   leave optional layers out (e.g. --without cjdns)\n"
		"  --recipes DIR          another recipe tree (default: ./recipes)\n"
		"  --out DIR              where images go (default: ./images)\n"
		"  --cache DIR            apt archives, artifacts and rootfs tarballs\n"
		"                         (default: $XDG_CACHE_HOME/mkmesh, /var/cache/mkmesh for root)\n"
		"  --artifacts DIR        local copies of the downloads (made by 'mkmesh fetch')\n"
		"  --mirror URL           Debian mirror instead of the recipe's\n"
		"  --no-check-valid-until accept an expired Release file (snapshot mirrors)\n"
		"  --image-version V      version in the file name (default: mkmesh's)\n"
		"  --compress METHOD      gzip, zstd or xz (.img.xz, through the xz program)\n"
		"                         instead of the recipe's\n"
		"  --from-manifest FILE   rebuild the image FILE describes (an images/*.manifest.json):\n"
		"                         its suite, mirror, layers, image version, compression,\n"
		"                         SOURCE_DATE_EPOCH, artifact hashes and the exact version of\n"
		"                         every package; stops if the mirror no longer has them (then\n"
		"                         give a snapshot.debian.org --mirror). The same manifest\n"
		"                         gives the same image, byte for byte\n"
		"  -v, --verbose          show the tools' output\n"
		"  -q, --quiet            only errors\n"
		"\n"
		"SOURCE_DATE_EPOCH, when set, is the time every file in the image is clamped to;\n"
		"with it, two builds of the same inputs give the same image.\n"
		"\n"
		"examples:\n"
		"  mkmesh build droplet\n"
		"  mkmesh build droplet --suite sid --without cjdns\n"
		"  mkmesh build droplet --mirror http://snapshot.debian.org/archive/debian/20260101T000000Z \\\n"
		"      --no-check-valid-until\n"
		"  mkmesh build droplet --from-manifest mkmesh-droplet-1.0-amd64.manifest.json --out rebuilt\n"
		"  mkmesh build droplet --from-manifest M.json \\\n"
		"      --mirror https://snapshot.debian.org/archive/debian/20260101T000000Z/ --no-check-valid-until\n");
}

struct build {
	struct build_options o;
	const char *target;
	struct recipe *recipe;
	const struct mk_target *handler;
	struct rebuild rb;  /* --from-manifest */
	bool rebuilding;
	const char *image_mirror; /* in the image's sources.list and the manifest */
	double t0, stage_t0;
	int stage, n_stages;
	char err[4096];
	/* what the stages made */
	struct artifacts downloads;
	struct rootfs_result rootfs;
	struct compose_input compose;
	struct compose_result composed;
	json_t *artifacts;
	char *raw;
	uint64_t base_bytes, base_entries; /* the base part of the tree, when its disk was made now */
	char *disk_text; /* the whole text of the disk stage's libguestfs failure */
	struct rootfs_package *provenance; /* from the rootfs cache's .packages.tsv */
	size_t n_provenance;
	struct output_file image, manifest, sbom;
	struct output_file bmap; /* only for targets that flash (handler->bmap) */
};

static void stage_begin(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stage_begin(struct build *b, const char *fmt, ...)
{
	va_list ap;
	b->stage_t0 = mk_now();
	b->stage++;
	if (mk_verbosity < 1)
		return;
	fprintf(stderr, "mkmesh: [%d/%d] ", b->stage, b->n_stages);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void stage_end(struct build *b, const char *detail)
{
	mk_log_info("      done in %.1fs%s%s", mk_now() - b->stage_t0, detail ? ", " : "",
		    detail ? detail : "");
}

/* SOURCE_DATE_EPOCH when the user set it (then *explicit is true), else the
 * last commit that touched the recipe tree or the overlays beside it: the
 * same sources give the same times. */
static time_t source_date_epoch(const char *recipes, bool *explicit)
{
	const char *env = getenv("SOURCE_DATE_EPOCH");
	*explicit = env && *env;
	if (*explicit) /* checked by mk_env_check() */
		return (time_t)strtoll(env, NULL, 10);
	/* git gets its arguments as argv: the recipe path is never shell. */
	char line[32] = "";
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fds[1], STDOUT_FILENO);
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0)
				dup2(null, STDERR_FILENO);
			execlp("git", "git", "-C", recipes, "log", "-1", "--format=%ct", "--", ".",
			       "../overlays", (char *)NULL);
			_exit(127);
		}
		close(fds[1]);
		ssize_t n = pid > 0 ? read(fds[0], line, sizeof(line) - 1) : -1;
		line[n > 0 ? n : 0] = '\0';
		close(fds[0]);
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
	}
	size_t digits = strspn(line, "0123456789");
	if (digits > 0 && digits <= 11 && (line[digits] == '\n' || line[digits] == '\0'))
		return (time_t)strtoll(line, NULL, 10);
	return time(NULL);
}

/* Every download the build needs, fetched and verified before the long steps. */
static int stage_artifacts(struct build *b)
{
	int rc = artifacts_fetch(b->recipe, b->o.cache, b->o.artifacts, &b->downloads, b->err,
				 sizeof(b->err));
	if (rc < 0)
		return rc;
	b->artifacts = json_array();
	for (size_t i = 0; i < b->downloads.n_files; i++) {
		const struct artifact_file *f = &b->downloads.files[i];
		const struct recipe_artifact *a = f->artifact;
		json_array_append_new(b->artifacts,
				      json_pack("{s:s, s:s, s:s, s:s, s:I, s:b}", "layer", f->layer->name,
						"name", a->name, "url", a->url, "sha256", f->sha256, "size",
						(json_int_t)f->size, "signature_checked", f->sig_path != NULL));
		b->compose.extras = xrealloc(b->compose.extras,
					     (b->compose.n_extras + 1) * sizeof(*b->compose.extras));
		b->compose.extras[b->compose.n_extras++] = (struct compose_extra){
			.path = xstrdup(a->dest + 1), .source = xstrdup(f->path), .mode = a->mode,
			.unpack = a->unpack};
	}
	/* The extra apt sources stay in the image, for updates, with their keys. */
	for (size_t i = 0; i < b->downloads.n_keys; i++) {
		const struct apt_key *k = &b->downloads.keys[i];
		_cleanup_free_ char *keyfile = xasprintf("/etc/apt/keyrings/%s.gpg", k->source->name);
		_cleanup_free_ char *line = rootfs_source_line(b->recipe, k->source, keyfile);
		_cleanup_free_ char *list = xasprintf("etc/apt/sources.list.d/%s.list", k->source->name);
		_cleanup_free_ char *text = xasprintf("%s\n", line);
		compose_add_file(&b->compose, list, text, 0644);
		b->compose.extras = xrealloc(b->compose.extras,
					     (b->compose.n_extras + 1) * sizeof(*b->compose.extras));
		b->compose.extras[b->compose.n_extras++] = (struct compose_extra){
			.path = xstrdup(keyfile + 1), .source = xstrdup(k->path), .mode = 0644};
	}
	return 0;
}

static int stage_rootfs(struct build *b)
{
	_cleanup_free_ char *logdir = xasprintf("%s/logs", b->o.cache);
	_cleanup_free_ char *log = xasprintf("%s/%s-rootfs.log", logdir, b->recipe->name);
	mk_mkdir_p(logdir, 0755);
	int rc = rootfs_build(b->recipe, &b->downloads, b->o.cache, log, &b->rootfs, b->err,
			      sizeof(b->err));
	if (rc == -MK_ERR_CHECKSUM && b->rebuilding) {
		_cleanup_free_ char *hint = rebuild_snapshot_hint(&b->rb);
		size_t n = strlen(b->err);
		snprintf(b->err + n, sizeof(b->err) - n, "\n%s", hint);
	}
	if (rc < 0)
		return rc;
	/* Where each package came from, for the manifest and the SBOM. */
	rc = rootfs_packages_load(b->rootfs.packages_path, &b->provenance, &b->n_provenance, b->err,
				  sizeof(b->err));
	if (rc < 0)
		return rc;
	if (b->rebuilding) {
		/* Before the disk: a different image must not be made silently. */
		struct compose_result installed;
		rc = compose_rootfs_packages(b->rootfs.tar_path, &installed, b->err, sizeof(b->err));
		if (rc == 0)
			rc = rebuild_check_packages(&b->rb, installed.packages, installed.n_packages,
						    b->recipe->mirror, b->err, sizeof(b->err));
		compose_result_release(&installed);
		if (rc < 0)
			return rc;
	}
	stage_end(b, b->rootfs.cached ? "from the cache" : "cached for the next build");
	return 0;
}

/* The files every image gets from the build itself. */
static void add_build_files(struct build *b)
{
	const struct recipe *r = b->recipe;
	json_t *layers = json_array();
	for (size_t i = 0; i < r->n_layers; i++)
		json_array_append_new(layers, json_string(r->layers[i]->name));
	/* "kind" (droplet, rpi): what the first-boot scripts go by (cjdns' LAN
	 * beacons are on for the Pi only), whatever the recipe is called. */
	json_t *info = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "target", r->name, "kind", r->kind,
				 "version", b->o.image_version, "arch", r->arch, "suite", r->suite,
				 "built_by", "mkmesh " MKMESH_VERSION, "layers", layers);
	_cleanup_free_ char *text = json_dumps(info, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(info);
	_cleanup_free_ char *withnl = xasprintf("%s\n", text);
	compose_add_file(&b->compose, "etc/mkmesh/build.json", withnl, 0644);
	/* The image's own apt sources: the mirror, and for a release its
	 * updates and security suites, which unattended-upgrades needs. */
	_cleanup_free_ char *comps = NULL;
	size_t clen = 0;
	FILE *cf = open_memstream(&comps, &clen);
	for (size_t i = 0; i < r->components.n; i++)
		fprintf(cf, " %s", r->components.v[i]);
	fclose(cf);
	bool rolling = !strcmp(r->suite, "sid") || !strcmp(r->suite, "unstable") ||
		       !strcmp(r->suite, "experimental");
	_cleanup_free_ char *sources =
		rolling ? xasprintf("deb %s %s%s\n", b->image_mirror, r->suite, comps)
			: xasprintf("deb %s %s%s\ndeb %s %s-updates%s\n"
				    "deb http://security.debian.org/debian-security %s-security%s\n",
				    b->image_mirror, r->suite, comps, b->image_mirror, r->suite, comps,
				    r->suite, comps);
	compose_add_file(&b->compose, "etc/apt/sources.list", sources, 0644);
	/* Empty: systemd makes a new one on each machine's first boot. */
	compose_add_file(&b->compose, "etc/machine-id", "", 0444);
	b->handler->add_files(r, &b->compose);
}

/* The whole text of a libguestfs failure, for the disk stage's log. */
static void keep_disk_text(struct build *b, struct disk *d)
{
	if (d->text) {
		free(b->disk_text);
		b->disk_text = TAKE_PTR(d->text);
	}
}

/* Bump when what the base disk holds changes. */
#define DISK_FORMAT "mkmesh-disk-4"
/* Per target: the base-only and full variants, on two suites, used in turn
 * by the tests, would otherwise push each other out. */
#define DISKS_KEEP 4

/*
 * The disk with the packages on it, partitioned, with the bootloader: made
 * once for each rootfs, disk layout, base file set and SOURCE_DATE_EPOCH,
 * kept in the cache, and copied (holes and all) for each build.
 */
static int cached_base_disk(struct build *b)
{
	const struct recipe *r = b->recipe;
	char key[65];
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	fprintf(f, "%s\n%s\n%s\n%llu\n%s\n%s\n%s\n%llu\n%s\n%lld\n", DISK_FORMAT, b->rootfs.key, r->kind,
		(unsigned long long)r->disk.size, r->disk.table, r->disk.root_fs, r->disk.root_label,
		(unsigned long long)r->disk.firmware_size, r->disk.firmware_label ? r->disk.firmware_label : "",
		(long long)b->compose.base_source_date_epoch);
	for (size_t i = 0; i < b->compose.n_files; i++)
		if (b->compose.files[i].base)
			fprintf(f, "%s\n%s\n%o\n", b->compose.files[i].path, b->compose.files[i].content,
				b->compose.files[i].mode);
	fclose(f);
	mk_sha256_hex(text, len, key);
	free(text);

	_cleanup_free_ char *dir = xasprintf("%s/disks", b->o.cache);
	_cleanup_free_ char *cached = xasprintf("%s/%s-%.16s.raw", dir, r->name, key);
	int rc;
	mk_mkdir_p(dir, 0755);
	if (mk_path_exists(cached)) {
		mk_log_info("  the disk with the packages comes from the cache");
		utimensat(AT_FDCWD, cached, NULL, 0);
	} else {
		_cleanup_free_ char *tmp = xasprintf("%s/%s-%.16s.tmp%d.raw", dir, r->name, key, (int)getpid());
		struct disk d;
		struct compose_result base = {0};
		mk_temp_register(tmp);
		b->compose.part = COMPOSE_BASE;
		rc = disk_open(&d, tmp, r->disk.size, &b->compose, &base, b->o.cache, b->err,
			       sizeof(b->err));
		if (rc == 0)
			rc = b->handler->make_disk(&d, r);
		int rc2 = disk_close(&d);
		keep_disk_text(b, &d);
		b->base_bytes = base.bytes;
		b->base_entries = base.entries;
		compose_result_release(&base);
		if (rc == 0 && (rc = rc2) == 0)
			rc = disk_clear_free_inodes(tmp, b->handler->root_part, b->err, sizeof(b->err));
		if (rc == 0 && rename(tmp, cached) < 0) {
			rc = -errno;
			snprintf(b->err, sizeof(b->err), "cannot rename '%s': %s", tmp, strerror(errno));
		}
		if (rc < 0)
			unlink(tmp);
		mk_temp_forget(tmp);
		if (rc < 0)
			return rc;
		_cleanup_free_ char *prefix = xasprintf("%s-", r->name);
		mk_prune_newest(dir, prefix, ".raw", DISKS_KEEP);
	}
	if ((rc = mk_copy_sparse(cached, b->raw)) < 0) {
		snprintf(b->err, sizeof(b->err), "cannot copy '%s': %s", cached, strerror(-rc));
		return rc;
	}
	return 0;
}

/* A failure of libguestfs or of what ran in its appliance: the cause line,
 * the fix, the whole text in the disk stage's log. */
static void diagnose_disk(struct build *b, int rc)
{
	uint64_t bytes = b->base_bytes + b->composed.bytes, entries = b->base_entries + b->composed.entries;
	struct stat st;
	/* The base disk came from the cache: the packages' tarball for its size. */
	if (!b->base_bytes && b->handler->finish && b->rootfs.tar_path && stat(b->rootfs.tar_path, &st) == 0)
		bytes += (uint64_t)st.st_size;
	struct diagnose_hints h = {.cache_dir = b->o.cache, .disk_size = b->recipe->disk.size,
				   .recipe_file = b->recipe->file, .tree_bytes = bytes, .tree_entries = entries};
	_cleanup_free_ char *log = xasprintf("%s/logs/%s-disk.log", b->o.cache, b->recipe->name);
	if (rc == -MK_ERR_GUESTFS) {
		diagnose_disk_failure(log, &h, b->disk_text, b->err, sizeof(b->err));
	} else if (rc == -ENOSPC || rc == -EDQUOT) {
		/* On the host: the cache, where the disk and the tree are made. */
		char fix[1024];
		diagnose_cache_full(&h, fix, sizeof(fix));
		size_t n = strlen(b->err);
		snprintf(b->err + n, sizeof(b->err) - n, "\n  fix: %s", fix);
	}
}

static int make_disk(struct build *b);

static int stage_disk(struct build *b)
{
	int rc = make_disk(b);
	if (rc < 0 && !mk_interrupted)
		diagnose_disk(b, rc);
	return rc;
}

static int make_disk(struct build *b)
{
	struct disk d;
	_cleanup_free_ char *workdir = xasprintf("%s/work", b->o.cache);
	int rc;

	mk_mkdir_p(workdir, 0755);
	b->raw = xasprintf("%s/%s-%d.raw", workdir, b->recipe->name, (int)getpid());
	mk_temp_register(b->raw);
	b->compose.rootfs_tar = b->rootfs.tar_path;
	b->compose.recipe = b->recipe;
	bool explicit_sde = b->rebuilding;
	b->compose.source_date_epoch = b->rebuilding ? b->rb.source_date_epoch
				       : source_date_epoch(b->o.recipes, &explicit_sde);
	/* The packages' files are clamped only to a SOURCE_DATE_EPOCH the user
	 * gave (a reproducible build): the disk with them stays cached across
	 * commits to the recipes. The layers' files are always clamped. */
	b->compose.base_source_date_epoch = explicit_sde ? b->compose.source_date_epoch : 0;
	add_build_files(b);
	if (b->handler->finish) {
		if ((rc = cached_base_disk(b)) < 0)
			return rc;
		b->compose.part = COMPOSE_LAYERS;
		rc = disk_open_existing(&d, b->raw, b->handler->root_part, &b->compose, &b->composed,
					b->o.cache, b->err, sizeof(b->err));
		if (rc == 0)
			rc = b->handler->finish(&d);
	} else {
		b->compose.part = COMPOSE_ALL;
		rc = disk_open(&d, b->raw, b->recipe->disk.size, &b->compose, &b->composed, b->o.cache,
			       b->err, sizeof(b->err));
		if (rc == 0)
			rc = b->handler->make_disk(&d, b->recipe);
	}
	int rc2 = disk_close(&d);
	keep_disk_text(b, &d);
	if (rc == 0)
		rc = rc2;
	if (rc < 0)
		return rc;
	/* What the kernel left that depends on when and how fast it ran. */
	char uuid[37];
	target_root_uuid(b->recipe, uuid);
	rc = disk_normalize(b->raw, b->handler->root_part, uuid,
			    explicit_sde ? b->compose.source_date_epoch : time(NULL), b->err, sizeof(b->err));
	if (rc == 0 && b->handler->fat_part)
		rc = fat_normalize(b->raw, b->handler->fat_part, b->err, sizeof(b->err));
	if (rc < 0)
		return rc;
	_cleanup_free_ char *detail = xasprintf("%llu entries, %.0f MiB of files, %zu packages",
						(unsigned long long)b->composed.entries,
						b->composed.bytes / 1048576.0, b->composed.n_packages);
	stage_end(b, detail);
	return 0;
}

/* This build's file named mkmesh-TARGET-VERSION-ARCH followed by TAIL. */
static char *build_file_name(const struct build *b, const char *tail)
{
	return output_name(b->recipe->name, b->o.image_version, b->recipe->arch, tail);
}

/* mkmesh-rpi-V-arm64.img.zst */
static char *image_name(const struct build *b)
{
	const char *ext = !strcmp(b->recipe->compress, "gzip") ? ".gz"
			  : !strcmp(b->recipe->compress, "xz") ? ".xz" : ".zst";
	_cleanup_free_ char *tail = xasprintf("%s%s", b->handler->suffix, ext);
	return build_file_name(b, tail);
}

/* NAME.img.bmap beside NAME.img.zst: the blocks of the raw disk that hold
 * data (after the trim), for `mkmesh flash` and `bmaptool copy`. */
static int write_bmap(struct build *b)
{
	struct bmap map;
	int rc = bmap_from_file(b->raw, &map, b->err, sizeof(b->err));
	if (rc < 0)
		return rc;
	_cleanup_free_ char *text = bmap_format(&map);
	_cleanup_free_ char *tail = xasprintf("%s.bmap", b->handler->suffix);
	_cleanup_free_ char *name = build_file_name(b, tail);
	_cleanup_free_ char *dest = xasprintf("%s/%s", b->o.out, name);
	mk_log_info("      block map: %.1f MiB of %.1f MiB in %zu ranges", bmap_mapped_bytes(&map) / 1048576.0,
		    map.image_size / 1048576.0, map.n_ranges);
	bmap_release(&map);
	rc = mk_write_file_atomic(dest, text, strlen(text), 0644);
	if (rc < 0) {
		snprintf(b->err, sizeof(b->err), "cannot write '%s': %s", dest, strerror(-rc));
		return rc;
	}
	mk_temp_register(dest);
	mk_sha256_hex(text, strlen(text), b->bmap.sha256);
	b->bmap.size = strlen(text);
	b->bmap.path = TAKE_PTR(dest);
	return 0;
}

/* A write into the output directory that found it full: which, how much. */
static void output_full_fix(struct build *b, int rc, const char *what, uint64_t need)
{
	if (rc != -ENOSPC && rc != -EDQUOT)
		return;
	char fix[1024];
	diagnose_output_full(b->o.out, what, need, fix, sizeof(fix));
	size_t n = strlen(b->err);
	snprintf(b->err + n, sizeof(b->err) - n, "\n  fix: %s", fix);
}

static int stage_output(struct build *b)
{
	_cleanup_free_ char *name = image_name(b);
	_cleanup_free_ char *dest = xasprintf("%s/%s", b->o.out, name);
	int rc;

	if ((rc = mk_mkdir_p(b->o.out, 0755)) < 0) {
		snprintf(b->err, sizeof(b->err), "cannot create '%s': %s", b->o.out, strerror(-rc));
		return rc;
	}
	/* Deflated chunks of this target's last build, so that a rebuild only
	 * compresses what changed; the ones this build did not use go. */
	_cleanup_free_ char *chunks = xasprintf("%s/chunks/%s", b->o.cache, b->recipe->name);
	mk_mkdir_p(chunks, 0755);
	time_t started = time(NULL);
	rc = output_compress(b->raw, dest, b->recipe->compress, chunks, &b->image, b->err,
			     sizeof(b->err));
	if (rc == 0)
		mk_prune_older(chunks, started - 1);
	if (rc < 0) {
		output_full_fix(b, rc, "the image", b->image.need);
		return rc;
	}
	/* From here on a failure must not leave this image behind either. */
	mk_temp_register(dest);
	if (b->handler->bmap && (rc = write_bmap(b)) < 0) {
		output_full_fix(b, rc, "the block map", 0);
		return rc;
	}
	_cleanup_free_ char *detail = xasprintf("%.1f MiB", b->image.size / 1048576.0);
	stage_end(b, detail);
	return 0;
}

static const struct rootfs_package *provenance_of(const struct build *b,
						   const struct compose_package *p)
{
	for (size_t i = 0; i < b->n_provenance; i++) {
		const struct rootfs_package *q = &b->provenance[i];
		if (!strcmp(q->name, p->name) && !strcmp(q->arch, p->arch) && !strcmp(q->version, p->version))
			return q;
	}
	return NULL;
}

static json_t *manifest_json(const struct build *b)
{
	const struct recipe *r = b->recipe;
	char uuid[37];
	json_t *layers = json_array(), *packages = json_array();

	target_root_uuid(r, uuid);
	for (size_t i = 0; i < r->n_layers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s?}", "name", r->layers[i]->name,
							"description", r->layers[i]->description));
	for (size_t i = 0; i < b->composed.n_packages; i++) {
		const struct compose_package *p = &b->composed.packages[i];
		const struct rootfs_package *q = provenance_of(b, p);
		/* Fields the build could not learn are left out, not guessed. */
		json_array_append_new(packages,
				      json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*, s:s*}", "name", p->name,
						"version", p->version, "arch", p->arch, "source",
						q ? q->source : NULL, "sha256", q ? q->sha256 : NULL, "url",
						q ? q->url : NULL, "license", p->license));
	}
	const char *base = strrchr(b->image.path, '/');
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:O, s:{s:s, s:s, s:I, s:I, s:s, s:s}}",
			 "manifest_version", 1, "target", r->name, "version", b->o.image_version,
			 "arch", r->arch, "suite", r->suite, "mirror", b->image_mirror,
			 "source_date_epoch", (json_int_t)b->compose.source_date_epoch,
			 "built_by", "mkmesh " MKMESH_VERSION, "layers", layers, "packages", packages,
			 "artifacts", b->artifacts, "image", "file", base ? base + 1 : b->image.path,
			 "sha256", b->image.sha256, "size", (json_int_t)b->image.size, "disk_size",
			 (json_int_t)r->disk.size, "root_uuid", uuid, "compression", r->compress);
}

static int stage_manifest(struct build *b)
{
	/* mkmesh-droplet-V-amd64.manifest.json and .spdx.json beside the image */
	_cleanup_free_ char *name = build_file_name(b, ".manifest.json");
	_cleanup_free_ char *sbom_name = build_file_name(b, ".spdx.json");
	_cleanup_free_ char *dest = xasprintf("%s/%s", b->o.out, name);
	_cleanup_free_ char *sbom_dest = xasprintf("%s/%s", b->o.out, sbom_name);
	json_t *m = manifest_json(b);
	int rc = output_write_json(dest, m, &b->manifest, b->err, sizeof(b->err));
	if (rc == 0) {
		char serr[256];
		json_t *doc = sbom_from_manifest(m, serr, sizeof(serr));
		if (!doc) {
			snprintf(b->err, sizeof(b->err), "cannot make the SBOM '%s': %s", sbom_dest, serr);
			rc = -EINVAL;
		} else {
			rc = output_write_json(sbom_dest, doc, &b->sbom, b->err, sizeof(b->err));
			json_decref(doc);
		}
	}
	json_decref(m);
	/* SHA256SUMS: image, manifest, SBOM, and the block map when there is one. */
	struct output_file files[] = {b->image, b->manifest, b->sbom, b->bmap};
	if (rc == 0)
		rc = output_update_sums(b->o.out, files, ELEMENTSOF(files) - !b->bmap.path, b->err,
					sizeof(b->err));
	if (rc < 0) {
		unlink(dest);
		unlink(sbom_dest);
		output_full_fix(b, rc, "the manifest", 0);
		return rc;
	}
	mk_temp_forget(b->image.path);
	if (b->bmap.path)
		mk_temp_forget(b->bmap.path);
	stage_end(b, NULL);
	if (b->rebuilding && !strcmp(b->image.sha256, b->rb.image_sha256))
		mk_log_info("the image is the one %s describes (sha256 %s)", b->rb.file, b->image.sha256);
	else if (b->rebuilding) {
		/* The point of a rebuild is this check: a difference fails it.
		 * The complete image stays, to compare with the one described. */
		snprintf(b->err, sizeof(b->err),
			 "the rebuilt image differs from the one %s describes (sha256 %s, not %s); it is "
			 "kept as '%s' for a comparison. Was that one built by another version of mkmesh or "
			 "its recipes? (rebuild with the recipes of the version named in the manifest)",
			 b->rb.file, b->image.sha256, b->rb.image_sha256, b->image.path);
		return -MK_ERR_CHECKSUM;
	}
	return 0;
}

static void build_release(struct build *b)
{
	if (b->raw) {
		unlink(b->raw);
		mk_temp_forget(b->raw);
		free(b->raw);
	}
	artifacts_release(&b->downloads);
	rootfs_result_release(&b->rootfs);
	compose_input_release(&b->compose);
	compose_result_release(&b->composed);
	json_decref(b->artifacts);
	free(b->image.path);
	free(b->manifest.path);
	free(b->sbom.path);
	free(b->bmap.path);
	free(b->disk_text);
	rootfs_packages_free(b->provenance, b->n_provenance);
	recipe_free(b->recipe);
	rebuild_release(&b->rb);
	build_options_release(&b->o);
}

/*
 * --from-manifest: the recipe loaded again with the manifest's suite,
 * mirror (unless --mirror gives another, e.g. a snapshot), compression and
 * layers, then pinned to its artifacts and package versions.
 */
static int pin_to_manifest(struct build *b)
{
	struct strv with = {0}, without = {0};
	int rc = rebuild_load(b->o.from_manifest, &b->rb, b->err, sizeof(b->err));
	if (rc < 0)
		return rc;
	b->rebuilding = true;
	if ((rc = rebuild_layer_options(&b->rb, b->recipe, &with, &without, b->err, sizeof(b->err))) == 0) {
		struct recipe_options ro = {.suite = b->rb.suite, .mirror = b->o.mirror ? b->o.mirror : b->rb.mirror,
					    .with = &with, .without = &without,
					    .check_valid_until = b->o.check_valid_until, .compress = b->rb.compress};
		recipe_free(b->recipe);
		b->recipe = NULL;
		rc = recipe_load(b->o.recipes, b->target, &ro, &b->recipe, b->err, sizeof(b->err));
	}
	strv_release(&with);
	strv_release(&without);
	if (rc == 0)
		rc = rebuild_pin_recipe(&b->rb, b->recipe, b->err, sizeof(b->err));
	if (rc < 0)
		return rc;
	const char *env = getenv("SOURCE_DATE_EPOCH");
	if (env && *env && strtoll(env, NULL, 10) != (long long)b->rb.source_date_epoch)
		mk_log_warn("SOURCE_DATE_EPOCH=%s is ignored: the manifest's, %lld, is used", env,
			    (long long)b->rb.source_date_epoch);
	/* For mmdebstrap and what it runs, too. */
	_cleanup_free_ char *sde = xasprintf("%lld", (long long)b->rb.source_date_epoch);
	setenv("SOURCE_DATE_EPOCH", sde, 1);
	free(b->o.image_version);
	b->o.image_version = xstrdup(b->rb.version);
	b->image_mirror = b->rb.mirror;
	mk_log_info("rebuilding from %s: %zu packages and %zu artifacts pinned, SOURCE_DATE_EPOCH=%lld",
		    b->rb.file, b->rb.n_packages, b->rb.n_artifacts, (long long)b->rb.source_date_epoch);
	return 0;
}

int cmd_build(int argc, char **argv)
{
	struct build b = {.n_stages = 5};
	int rc = build_options_parse(&b.o, argc, argv, usage);
	if (rc != -1)
		return rc;
	if (optind + 1 != argc) {
		usage(stderr);
		build_options_release(&b.o);
		return 2;
	}
	b.target = argv[optind];

	struct recipe_options ro = {.suite = b.o.suite, .mirror = b.o.mirror, .with = &b.o.with,
				    .without = &b.o.without, .check_valid_until = b.o.check_valid_until,
				    .compress = b.o.compress};
	rc = recipe_load(b.o.recipes, b.target, &ro, &b.recipe, b.err, sizeof(b.err));
	if (rc == 0 && b.o.from_manifest)
		rc = pin_to_manifest(&b);
	if (rc < 0) {
		mk_log_error("%s", b.err);
		build_release(&b);
		return 2;
	}
	if (!b.image_mirror)
		b.image_mirror = b.recipe->mirror;
	b.handler = target_find(b.recipe->kind);
	if (!b.handler) {
		mk_log_error("%s: kind: no target handler '%s' (known: droplet, rpi)", b.recipe->file,
			     b.recipe->kind);
		build_release(&b);
		return 2;
	}
	if ((rc = mk_mkdir_p(b.o.cache, 0755)) < 0) {
		mk_log_error("cannot create the cache '%s': %s", b.o.cache, strerror(-rc));
		build_release(&b);
		return 1;
	}

	b.t0 = mk_now();
	struct strv names = {0};
	for (size_t i = 0; i < b.recipe->n_layers; i++)
		strv_push(&names, b.recipe->layers[i]->name);
	_cleanup_free_ char *joined = NULL;
	size_t jl = 0;
	FILE *jf = open_memstream(&joined, &jl);
	for (size_t i = 0; i < names.n; i++)
		fprintf(jf, "%s%s", i ? ", " : "", names.v[i]);
	fclose(jf);
	strv_release(&names);
	mk_log_info("building '%s' (%s, Debian %s), layers: %s", b.recipe->name, b.recipe->arch,
		    b.recipe->suite, joined);

	stage_begin(&b, "artifacts: fetching and verifying what the layers download");
	rc = stage_artifacts(&b);
	if (rc == 0) {
		stage_end(&b, NULL);
		struct strv pkgs = {0};
		recipe_all_packages(b.recipe, &pkgs);
		stage_begin(&b, "rootfs: mmdebstrap, %zu packages from %s", pkgs.n, b.recipe->mirror);
		strv_release(&pkgs);
		rc = stage_rootfs(&b);
	}
	if (rc == 0) {
		stage_begin(&b, "disk: %s %s image, %s", b.recipe->disk.table, b.recipe->disk.root_fs,
			    b.recipe->kind);
		rc = stage_disk(&b);
	}
	if (rc == 0) {
		stage_begin(&b, "output: %s", b.recipe->compress);
		rc = stage_output(&b);
	}
	if (rc == 0) {
		stage_begin(&b, "manifest and SHA256SUMS");
		rc = stage_manifest(&b);
	}
	if (rc < 0) {
		if (mk_interrupted || rc == -MK_ERR_INTERRUPTED)
			mk_log_error("build of '%s' interrupted; nothing was written to '%s'", b.target, b.o.out);
		else
			mk_log_error("%s", b.err);
		mk_temp_cleanup();
		build_release(&b);
		return 1;
	}
	if (mk_verbosity >= 1)
		fprintf(stderr, "mkmesh: built in %.0fs:\n", mk_now() - b.t0);
	printf("%s\n%s\n", b.image.path, b.manifest.path);
	if (b.bmap.path)
		printf("%s\n", b.bmap.path);
	printf("%s\n", b.sbom.path);
	build_release(&b);
	return 0;
}
