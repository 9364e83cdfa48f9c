/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mkmesh upload droplet [IMAGE]: multipart upload to a Space, import as a
 * DigitalOcean custom image from a presigned URL, wait until available,
 * transfer to more regions, delete the uploaded object in every case.
 */
#include <dirent.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "../builder/commands.h"
#include "../builder/util.h"
#include "do_api.h"
#include "http.h"
#include "s3.h"

#define PRESIGN_SECONDS 3600

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh upload droplet [IMAGE] --space BUCKET --region REGION [options]\n"
		"\n"
		"Uploads a droplet image to a DigitalOcean Space, imports it as a custom image,\n"
		"waits until it is available and prints its id. The uploaded object is deleted\n"
		"afterwards, also when the import fails or is interrupted (Ctrl-C).\n"
		"\n"
		"IMAGE defaults to the newest images/mkmesh-droplet-*.raw.gz ('mkmesh build\n"
		"droplet' makes it). DigitalOcean takes raw images compressed with gzip or bzip2.\n"
		"\n"
		"options:\n"
		"  --space BUCKET          the Space (bucket) to upload to; it must exist\n"
		"  --region REGION         region of the Space and of the image, e.g. nyc3\n"
		"  --regions R1,R2         also copy the image to these regions and wait for it\n"
		"  --name NAME             image name (default: the file name without .raw.gz)\n"
		"  --tag TAG               tag the image; may be repeated\n"
		"  --json                  print a JSON object instead of the image id\n"
		"  --keep-object           do not delete the uploaded object from the Space\n"
		"  --out DIR               where to look for the newest image (default: images)\n"
		"  --api-url URL           DigitalOcean API (default: " DO_API_DEFAULT_URL ")\n"
		"  --spaces-endpoint URL   S3 endpoint (default: https://REGION.digitaloceanspaces.com);\n"
		"                          any S3-compatible store works\n"
		"  -v, --verbose           show each request (secrets are never shown)\n"
		"  -q, --quiet             only errors and the result\n"
		"  -h, --help              this text\n"
		"\n"
		"environment:\n"
		"  DIGITALOCEAN_TOKEN      API token with image read/write scope\n"
		"                          (DIGITALOCEAN_ACCESS_TOKEN is accepted too, as doctl does)\n"
		"  SPACES_ACCESS_KEY_ID    Spaces access key (API > Spaces Keys in the control panel)\n"
		"  SPACES_SECRET_ACCESS_KEY  its secret\n"
		"  MKMESH_DO_API_URL       same as --api-url\n"
		"  MKMESH_SPACES_ENDPOINT  same as --spaces-endpoint\n"
		"  MKMESH_POLL_SECONDS     how often to ask for the import status (default 5)\n"
		"  MKMESH_IMPORT_TIMEOUT   give up waiting after this many seconds (default 3600)\n"
		"\n"
		"example:\n"
		"  export DIGITALOCEAN_TOKEN=dop_v1_... SPACES_ACCESS_KEY_ID=DO00... \\\n"
		"         SPACES_SECRET_ACCESS_KEY=...\n"
		"  mkmesh upload droplet --space my-images --region nyc3 --regions tor1,ams3 \\\n"
		"         --tag mesh\n"
		"  doctl compute droplet create mesh1 --image <printed id> --region nyc3 ...\n");
}

/* ---- Ctrl-C: stop transfers, then clean up normally ---- */

/* ---- callbacks from the library code ---- */

static void debug_cb(void *userdata, const char *line)
{
	(void)userdata;
	_cleanup_free_ char *safe = s3_redact_url(line);
	mk_log_debug("%s", safe);
}

static void notice_cb(void *userdata, const char *line)
{
	(void)userdata;
	mk_log_info("%s", line);
}

static void progress_cb(void *userdata, uint64_t done, uint64_t total)
{
	struct mk_progress *p = userdata;
	(void)total;
	mk_progress_update(p, done);
}

/* ---- helpers ---- */

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The newest DIR/mkmesh-droplet-*.raw.gz, or NULL. */
static char *newest_image(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return NULL;
	char *best = NULL;
	struct timespec best_t = {0};
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "mkmesh-droplet-", 15) || !has_suffix(e->d_name, ".raw.gz"))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (!best || st.st_mtim.tv_sec > best_t.tv_sec ||
		    (st.st_mtim.tv_sec == best_t.tv_sec && st.st_mtim.tv_nsec > best_t.tv_nsec)) {
			free(best);
			best = TAKE_PTR(p);
			best_t = st.st_mtim;
		}
	}
	closedir(d);
	return best;
}

struct upload {
	/* options */
	const char *image, *space, *region, *name, *out_dir, *api_url, *endpoint;
	struct strv regions, tags;
	bool json, keep_object;
	/* secrets */
	const char *token, *access_key, *secret_key;
	/* state */
	struct s3_config s3;
	struct s3_upload_opts s3o;
	struct do_api *api;
	char *key;
	bool uploaded;
	long long image_id;
	char err[2048];
};

static void upload_release(struct upload *u)
{
	strv_release(&u->regions);
	strv_release(&u->tags);
	free(u->s3.endpoint);
	free(u->key);
	do_api_free(u->api);
}

/* Log ERR (from library code) with a prefix and a hint; secrets scrubbed. */
static void report(struct upload *u, int r, const char *what)
{
	_cleanup_free_ char *msg = s3_redact_url(u->err);
	mk_scrub(msg, u->token);
	mk_scrub(msg, u->secret_key);
	const char *hint = "";
	if (r == -MK_ERR_NETWORK)
		hint = "; check the URL and the network, then run the command again";
	mk_log_error("%s: %s%s", what, msg, hint);
}

static int do_upload(struct upload *u)
{
	struct stat st;
	if (stat(u->image, &st) < 0) {
		mk_log_error("cannot read '%s': %s", u->image, strerror(errno));
		return -errno;
	}
	struct mk_progress prog;
	mk_log_info("uploading '%s' (%.1f MiB) to '%s/%s'", u->image, st.st_size / 1048576.0,
		    u->space, u->key);
	mk_progress_begin(&prog, "upload", (uint64_t)st.st_size);
	u->s3o.progress = progress_cb;
	u->s3o.userdata = &prog;
	double t0 = mk_now();
	int r = s3_upload_file(&u->s3, u->key, u->image, &u->s3o, u->err, sizeof(u->err));
	mk_progress_end(&prog);
	u->s3o.progress = NULL;
	u->s3o.userdata = NULL;
	if (r == -MK_ERR_INTERRUPTED)
		return r;
	if (r == -MK_ERR_AUTH) {
		report(u, r, "uploading to the Space failed");
		mk_log_error("the Space refused the key: check SPACES_ACCESS_KEY_ID and "
			     "SPACES_SECRET_ACCESS_KEY, and that Space '%s' exists in '%s'",
			     u->space, u->region);
		return r;
	}
	if (r < 0) {
		report(u, r, "uploading to the Space failed");
		return r;
	}
	u->uploaded = true;
	double el = mk_now() - t0;
	mk_log_info("uploaded %.1f MiB in %.1f s (%.1f MiB/s)", st.st_size / 1048576.0, el,
		    el > 0 ? st.st_size / 1048576.0 / el : 0.0);
	return 0;
}

static int api_fail(struct upload *u, int r, const char *what)
{
	if (r == -MK_ERR_INTERRUPTED)
		return r;
	report(u, r, what);
	if (r == -MK_ERR_AUTH)
		mk_log_error("DigitalOcean refused the token: check DIGITALOCEAN_TOKEN (it needs "
			     "read and write access to images)");
	return r;
}

static int do_import(struct upload *u, json_t **image_out)
{
	_cleanup_free_ char *url = s3_presign(&u->s3, "GET", u->key, time(NULL), PRESIGN_SECONDS);
	_cleanup_free_ char *desc = xasprintf("mkmesh %s droplet image (%s)", MKMESH_VERSION,
					      strrchr(u->image, '/') ? strrchr(u->image, '/') + 1 : u->image);
	struct do_image_new in = {
		.name = u->name,
		.url = url,
		.region = u->region,
		.distribution = "Debian",
		.description = desc,
		.tags = &u->tags,
	};
	json_t *img = NULL;
	int r = do_api_image_create(u->api, &in, &img, u->err, sizeof(u->err));
	explicit_bzero(url, strlen(url));
	if (r < 0)
		return api_fail(u, r, "importing the image failed");
	u->image_id = do_api_int(img, "id");
	mk_log_info("importing as image %lld '%s' in '%s'", u->image_id, u->name, u->region);

	double poll = mk_env_seconds("MKMESH_POLL_SECONDS", 5);
	double deadline = mk_now() + mk_env_seconds("MKMESH_IMPORT_TIMEOUT", 3600);
	char last[32] = "";
	for (;;) {
		const char *status = do_api_str(img, "status");
		if (strcmp(status, last)) {
			mk_log_info("image %lld: %s", u->image_id, *status ? status : "(no status)");
			snprintf(last, sizeof(last), "%s", status);
		}
		if (!strcmp(status, "available")) {
			*image_out = img;
			return 0;
		}
		if (!strcmp(status, "deleted") || !strcmp(status, "retired")) {
			_cleanup_free_ char *m = s3_redact_url(do_api_str(img, "error_message"));
			mk_scrub(m, u->token);
			mk_log_error("DigitalOcean could not import image %lld '%s': %s", u->image_id,
				     u->name, *m ? m : "(no error_message given)");
			mk_log_error("the image must be raw, qcow2, vhdx, vdi or vmdk, compressed with "
				     "gzip or bzip2, under 100 GB unpacked, with ext3/ext4 and cloud-init");
			json_decref(img);
			return -MK_ERR_HTTP;
		}
		if (mk_now() > deadline) {
			mk_log_error("image %lld is still '%s' after %.0f s; look at it in the control "
				     "panel, or raise MKMESH_IMPORT_TIMEOUT",
				     u->image_id, status, mk_env_seconds("MKMESH_IMPORT_TIMEOUT", 3600));
			json_decref(img);
			return -ETIMEDOUT;
		}
		if (http_sleep(poll, false) < 0) {
			json_decref(img);
			return -MK_ERR_INTERRUPTED;
		}
		json_decref(img);
		img = NULL;
		r = do_api_image_get(u->api, u->image_id, &img, u->err, sizeof(u->err));
		if (r < 0)
			return api_fail(u, r, "waiting for the import failed");
	}
}

static int do_transfers(struct upload *u, json_t *regions_done)
{
	struct {
		const char *region;
		long long id;
		bool done;
	} *act = xcalloc(u->regions.n + 1, sizeof(*act));
	size_t n = 0;
	int r = 0;
	for (size_t i = 0; i < u->regions.n && r == 0; i++) {
		if (!strcmp(u->regions.v[i], u->region))
			continue;
		json_t *a = NULL;
		r = do_api_image_transfer(u->api, u->image_id, u->regions.v[i], &a, u->err,
					  sizeof(u->err));
		if (r < 0) {
			r = api_fail(u, r, "copying the image to another region failed");
			break;
		}
		act[n].region = u->regions.v[i];
		act[n].id = do_api_int(a, "id");
		mk_log_info("copying image %lld to '%s' (action %lld)", u->image_id, act[n].region,
			    act[n].id);
		n++;
		json_decref(a);
	}
	double poll = mk_env_seconds("MKMESH_POLL_SECONDS", 5);
	double deadline = mk_now() + mk_env_seconds("MKMESH_IMPORT_TIMEOUT", 3600);
	size_t left = n;
	while (r == 0 && left) {
		if (http_sleep(poll, false) < 0) {
			r = -MK_ERR_INTERRUPTED;
			break;
		}
		for (size_t i = 0; i < n && r == 0; i++) {
			if (act[i].done)
				continue;
			json_t *a = NULL;
			r = do_api_image_action_get(u->api, u->image_id, act[i].id, &a, u->err,
						    sizeof(u->err));
			if (r < 0) {
				r = api_fail(u, r, "waiting for a copy to another region failed");
				break;
			}
			const char *st = do_api_str(a, "status");
			if (!strcmp(st, "completed")) {
				mk_log_info("image %lld is in '%s'", u->image_id, act[i].region);
				json_array_append_new(regions_done, json_string(act[i].region));
				act[i].done = true;
				left--;
			} else if (!strcmp(st, "errored")) {
				mk_log_error("copying image %lld to '%s' failed (action %lld errored); "
					     "try again in the control panel or with 'doctl compute "
					     "image-action transfer'",
					     u->image_id, act[i].region, act[i].id);
				r = -MK_ERR_HTTP;
			}
			json_decref(a);
		}
		if (r == 0 && left && mk_now() > deadline) {
			mk_log_error("copies of image %lld are not done after %.0f s; they go on at "
				     "DigitalOcean, look at them in the control panel",
				     u->image_id, mk_env_seconds("MKMESH_IMPORT_TIMEOUT", 3600));
			r = -ETIMEDOUT;
		}
	}
	free(act);
	return r;
}

static int parse_args(struct upload *u, int argc, char **argv)
{
	enum { OPT_SPACE = 256, OPT_REGION, OPT_REGIONS, OPT_NAME, OPT_TAG, OPT_JSON, OPT_KEEP,
	       OPT_OUT, OPT_API, OPT_ENDPOINT };
	static const struct option opts[] = {
		{"space", required_argument, NULL, OPT_SPACE},
		{"region", required_argument, NULL, OPT_REGION},
		{"regions", required_argument, NULL, OPT_REGIONS},
		{"name", required_argument, NULL, OPT_NAME},
		{"tag", required_argument, NULL, OPT_TAG},
		{"json", no_argument, NULL, OPT_JSON},
		{"keep-object", no_argument, NULL, OPT_KEEP},
		{"out", required_argument, NULL, OPT_OUT},
		{"api-url", required_argument, NULL, OPT_API},
		{"spaces-endpoint", required_argument, NULL, OPT_ENDPOINT},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SPACE: u->space = optarg; break;
		case OPT_REGION: u->region = optarg; break;
		case OPT_REGIONS: strv_split(&u->regions, optarg, ", "); break;
		case OPT_NAME: u->name = optarg; break;
		case OPT_TAG: strv_push(&u->tags, optarg); break;
		case OPT_JSON: u->json = true; break;
		case OPT_KEEP: u->keep_object = true; break;
		case OPT_OUT: u->out_dir = optarg; break;
		case OPT_API: u->api_url = optarg; break;
		case OPT_ENDPOINT: u->endpoint = optarg; break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "mkmesh: 'mkmesh upload --help' lists the options\n");
			return 2;
		}
	}
	if (optind >= argc) {
		mk_log_error("say what to upload: 'mkmesh upload droplet [IMAGE]'");
		return 2;
	}
	if (strcmp(argv[optind], "droplet")) {
		mk_log_error("cannot upload target '%s': only 'droplet' images go to DigitalOcean; "
			     "'mkmesh flash rpi' writes Raspberry Pi images", argv[optind]);
		return 2;
	}
	optind++;
	if (optind < argc)
		u->image = argv[optind++];
	if (optind < argc) {
		mk_log_error("unexpected argument '%s'; give one IMAGE at most", argv[optind]);
		return 2;
	}
	if (!u->space || !u->region) {
		mk_log_error("missing %s: name the Space and its region, e.g. '--space my-images "
			     "--region nyc3'", !u->space ? "--space" : "--region");
		return 2;
	}
	u->token = do_api_from_env(&u->api_url);
	u->access_key = mk_getenv2("SPACES_ACCESS_KEY_ID", NULL);
	u->secret_key = mk_getenv2("SPACES_SECRET_ACCESS_KEY", NULL);
	if (!u->token) {
		mk_log_error("DIGITALOCEAN_TOKEN is not set: make a token with image read/write "
			     "scope (control panel, API > Tokens) and export it");
		return 2;
	}
	if (!u->access_key || !u->secret_key) {
		mk_log_error("%s is not set: make a Spaces key (control panel, API > Spaces Keys) "
			     "and export SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY",
			     !u->access_key ? "SPACES_ACCESS_KEY_ID" : "SPACES_SECRET_ACCESS_KEY");
		return 2;
	}
	if (!u->endpoint)
		u->endpoint = mk_getenv2("MKMESH_SPACES_ENDPOINT", NULL);
	return -1;
}

int cmd_upload(int argc, char **argv)
{
	struct upload u = {0};
	_cleanup_free_ char *found = NULL, *default_name = NULL;
	int ret = parse_args(&u, argc, argv);
	if (ret >= 0) {
		upload_release(&u);
		return ret;
	}

	if (!u.image) {
		const char *dir = u.out_dir ? u.out_dir : "images";
		found = newest_image(dir);
		if (!found) {
			mk_log_error("no image to upload in '%s': run 'mkmesh build droplet' first, or "
				     "name the image file", dir);
			upload_release(&u);
			return 1;
		}
		u.image = found;
	}
	if (access(u.image, R_OK) < 0) {
		mk_log_error("cannot read '%s': %s", u.image, strerror(errno));
		upload_release(&u);
		return 1;
	}
	const char *base = strrchr(u.image, '/') ? strrchr(u.image, '/') + 1 : u.image;
	if (!has_suffix(base, ".gz") && !has_suffix(base, ".bz2"))
		mk_log_warn("'%s' is not compressed with gzip or bzip2: the upload is larger than "
			    "it needs to be", u.image);
	if (!u.name) {
		default_name = xstrdup(base);
		static const char *const exts[] = {".gz", ".bz2", ".raw", ".img", ".qcow2"};
		for (size_t i = 0; i < ELEMENTSOF(exts); i++)
			if (has_suffix(default_name, exts[i]))
				default_name[strlen(default_name) - strlen(exts[i])] = '\0';
		u.name = default_name;
	}

	/* A key of our own: never overwrite (and then delete) someone's object. */
	u.key = xasprintf("mkmesh-upload-%lld-%d/%s", (long long)time(NULL), (int)getpid(), base);
	u.s3 = (struct s3_config){
		.endpoint = u.endpoint ? xstrdup(u.endpoint)
				       : xasprintf("https://%s.digitaloceanspaces.com", u.region),
		.region = (char *)u.region,
		.bucket = (char *)u.space,
		.access_key = (char *)u.access_key,
		.secret_key = (char *)u.secret_key,
	};
	u.s3o.debug = debug_cb;
	u.api = do_api_new(u.api_url, u.token);
	u.api->debug = debug_cb;
	u.api->notice = notice_cb;

	struct sigaction old[3];
	http_catch_signals(old);

	json_t *image = NULL;
	json_t *regions_done = json_array();
	json_array_append_new(regions_done, json_string(u.region));
	int r = do_upload(&u);
	int upload_r = r;
	if (r == 0)
		r = do_import(&u, &image);
	if (r == 0 && u.regions.n)
		r = do_transfers(&u, regions_done);

	bool interrupted = r == -MK_ERR_INTERRUPTED || http_abort;
	if (interrupted)
		mk_log_info("interrupted; cleaning up (Ctrl-C again leaves things as they are)");
	/* The object is not needed once DigitalOcean has fetched it, or failed to. */
	bool deleted = false, delete_failed = false;
	if (u.keep_object && u.uploaded) {
		mk_log_info("kept 's3://%s/%s' (--keep-object)", u.space, u.key);
	} else if (u.uploaded || upload_r != -MK_ERR_AUTH) {
		/*
		 * Also after a failed upload: a completion whose answer was lost
		 * may have made the object all the same. The key is ours alone,
		 * and a missing object is no error.
		 */
		char derr[1024];
		int d = s3_delete_object(&u.s3, u.key, &u.s3o, derr, sizeof(derr));
		if (d < 0) {
			mk_log_error("could not delete the uploaded object '%s/%s': %s; delete it in "
				     "the control panel", u.space, u.key, derr);
			delete_failed = true;
			if (r == 0)
				r = d;
		} else {
			deleted = u.uploaded;
			mk_log_debug("deleted '%s/%s'", u.space, u.key);
		}
	}
	if (interrupted)
		mk_log_error("interrupted%s", delete_failed ? ""
			     : !u.uploaded ? "; the upload was aborted and nothing is left in the Space"
			     : u.keep_object ? "; the uploaded object was kept (--keep-object)"
			     : "; the uploaded object was deleted from the Space");
	if (interrupted && u.image_id > 0)
		mk_log_error("image %lld was being imported; delete it in the control panel or with "
			     "'doctl compute image delete %lld' if you do not want it",
			     u.image_id, u.image_id);

	if (r == 0) {
		if (u.json) {
			json_t *o = json_pack("{s:I, s:s, s:s, s:O, s:s, s:s, s:b}", "id",
					      (json_int_t)u.image_id, "name", do_api_str(image, "name"),
					      "status", do_api_str(image, "status"), "regions",
					      regions_done, "space", u.space, "object", u.key,
					      "object_deleted", deleted);
			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(o);
		} else {
			printf("%lld\n", u.image_id);
		}
		fflush(stdout);
	}
	json_decref(image);
	json_decref(regions_done);
	upload_release(&u);
	http_restore_signals(old);
	return r == 0 ? 0 : 1;
}
