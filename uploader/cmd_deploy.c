/* SPDX-License-Identifier: GPL-3.0-or-later */
/*
 * mkmesh deploy droplet: a droplet from the custom image that `upload` made,
 * with the site file as cloud-init user-data, and the DNS records that make
 * its services reachable (matrix, chat: A, AAAA, CAA; _matrix._tcp SRV).
 * mkmesh destroy droplet NAME: the droplet and exactly the records that
 * point at it.
 *
 * Both are safe to run again: what exists and is right is left, what is
 * missing is made, and a record that points somewhere else is never
 * overwritten without --replace-records. Everything is looked at and
 * planned before the first change, so a conflict stops the deploy before a
 * droplet (which costs money) is made.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "../builder/commands.h"
#include "../builder/util.h"
#include "dns_plan.h"
#include "do_api.h"
#include "http.h"
#include "site.h"
#include "site_args.h"

#define DEFAULT_SIZE "s-2vcpu-4gb"
#define DEFAULT_TAG "mkmesh"
#define IMAGE_PREFIX "mkmesh-droplet-"
#define CREATE_TRIES 4

static void deploy_usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh deploy droplet --site FILE --region REGION --ssh-key KEY [options]\n"
		"\n"
		"Creates a droplet from a mkmesh custom image with the site file as its cloud-init\n"
		"user-data, waits until it is running, then makes the DNS records of its services\n"
		"in the site's domain (which must be in DigitalOcean DNS already):\n"
		"\n"
		"  matrix, chat     A, AAAA   the droplet's public IPv4 and IPv6 addresses\n"
		"  matrix, chat     CAA       0 issue \"letsencrypt.org\"\n"
		"  _matrix._tcp     SRV       10 0 8448 matrix.DOMAIN\n"
		"\n"
		"Run it again at any time: an existing droplet of that name and records that are\n"
		"right are left as they are, and only what is missing or different is changed.\n"
		"A record of the same name and type that points somewhere else is not touched\n"
		"unless you say --replace-records. The machine publishes h.matrix and h.chat (its\n"
		"cjdns address) itself on first boot when the site file has a digitalocean_token.\n"
		"\n"
		"options:\n"
		"  --site FILE         the site file (docs/site.md); it becomes /etc/mkmesh/site.json\n"
		"  --region REGION     where the droplet runs, e.g. tor1 (the image must be there)\n"
		"  --ssh-key KEY       a public key file (~/.ssh/id_ed25519.pub) or key, or the id or\n"
		"                      fingerprint of a key in your account ('doctl compute ssh-key\n"
		"                      list'); may be repeated, at least one is needed\n"
		"  --image IMAGE       custom image id or name (default: the newest available\n"
		"                      private image named " IMAGE_PREFIX "*, as 'mkmesh upload' makes)\n"
		"  --size SIZE         droplet size (default: " DEFAULT_SIZE ")\n"
		"  --name NAME         droplet name (default: mkmesh-DOMAIN with dots as dashes)\n"
		"  --tag TAG           tag the droplet (default: " DEFAULT_TAG "); may be repeated\n"
		"  --backups           turn on DigitalOcean's weekly backups (costs extra)\n"
		"  --monitoring        install DigitalOcean's monitoring agent\n"
		"  --replace-records   point records that point elsewhere at this droplet\n"
		"  --dry-run           look and print the plan; change nothing\n"
		"  --json              print a JSON object instead of the text summary\n"
		"  --api-url URL       DigitalOcean API (default: " DO_API_DEFAULT_URL ")\n"
		"  -v, --verbose       show each request (the token is never shown)\n"
		"  -q, --quiet         only errors and the result\n"
		"  -h, --help          this text\n"
		"\n"
		"environment:\n"
		"  DIGITALOCEAN_TOKEN       API token with read/write access to droplets, images,\n"
		"                           tags and domains (DIGITALOCEAN_ACCESS_TOKEN works too)\n"
		"  MKMESH_DO_API_URL        same as --api-url\n"
		"  MKMESH_POLL_SECONDS      how often to look whether the droplet runs (default 5)\n"
		"  MKMESH_DEPLOY_TIMEOUT    give up waiting for it after this many seconds (default 600)\n"
		"\n"
		"exit status: 0 done (or planned, with --dry-run), 1 failed, 2 bad command line\n"
		"\n"
		"example:\n"
		"  export DIGITALOCEAN_TOKEN=dop_v1_...\n"
		"  doctl compute domain create example.org        # once, if it is not there yet\n"
		"  mkmesh deploy droplet --site site.json --region tor1 --ssh-key ~/.ssh/id_ed25519.pub \\\n"
		"         --backups --monitoring --dry-run        # look first\n"
		"  mkmesh deploy droplet --site site.json --region tor1 --ssh-key ~/.ssh/id_ed25519.pub \\\n"
		"         --backups --monitoring\n"
		"  # a few minutes later: https://chat.example.org\n");
}

static void destroy_usage(FILE *f)
{
	fprintf(f,
		"usage: mkmesh destroy droplet NAME [--yes] [--domain DOMAIN | --site FILE] [options]\n"
		"\n"
		"Deletes the droplet NAME and exactly the DNS records that point at it: A and\n"
		"AAAA records whose address is one of the droplet's, the _matrix._tcp SRV record\n"
		"when the matrix A record pointed at it, and the CAA records 'mkmesh deploy' made\n"
		"for matrix and chat when those names are left with no address. Every other\n"
		"record is left alone. It shows what it will delete and asks first.\n"
		"\n"
		"options:\n"
		"  --yes               do not ask (needed when stdin is not a terminal)\n"
		"  --domain DOMAIN     only look at the records of DOMAIN (default: every domain\n"
		"                      in the account)\n"
		"  --site FILE         the same, with the domain of the site file\n"
		"  --dry-run           show what would be deleted; delete nothing\n"
		"  --json              print a JSON object instead of the text summary\n"
		"  --api-url URL       DigitalOcean API (default: " DO_API_DEFAULT_URL ")\n"
		"  -v, --verbose       show each request (the token is never shown)\n"
		"  -q, --quiet         only errors and the result\n"
		"  -h, --help          this text\n"
		"\n"
		"environment: DIGITALOCEAN_TOKEN (or DIGITALOCEAN_ACCESS_TOKEN), MKMESH_DO_API_URL\n"
		"\n"
		"exit status: 0 done, 1 failed, 2 bad command line or not confirmed\n"
		"\n"
		"example:\n"
		"  mkmesh destroy droplet mkmesh-example-org --dry-run\n"
		"  mkmesh destroy droplet mkmesh-example-org\n");
}

/* ---- signals, callbacks, messages ---- */

static void debug_cb(void *userdata, const char *line)
{
	(void)userdata;
	mk_log_debug("%s", line);
}

static void notice_cb(void *userdata, const char *line)
{
	(void)userdata;
	mk_log_info("%s", line);
}

/* What both commands share: the API, the secrets to keep out of messages. */
struct ctx {
	struct do_api *api;
	const char *token, *site_token;
	json_t *site_doc; /* the site file: its cjdns peers' passwords */
	char err[2048];
};

/* The secrets out of c->err: the tokens, and the cjdns peers' passwords
 * (the site file goes to DigitalOcean as user-data). */
static void scrub_secrets(struct ctx *c)
{
	json_t *peers = json_object_get(json_object_get(c->site_doc, "cjdns"), "peers"), *p;
	size_t i;

	mk_scrub(c->err, c->token);
	mk_scrub(c->err, c->site_token);
	json_array_foreach(peers, i, p)
		mk_scrub(c->err, json_string_value(json_object_get(p, "password")));
}

static int api_fail(struct ctx *c, int r, const char *what)
{
	if (r == -MK_ERR_INTERRUPTED) {
		mk_log_error("%s: interrupted", what);
		return r;
	}
	scrub_secrets(c);
	mk_log_error("%s: %s%s", what, c->err,
		     r == -MK_ERR_NETWORK ? "; check --api-url and the network, then run the command "
					    "again (it carries on where it stopped)"
					  : "");
	if (r == -MK_ERR_AUTH)
		mk_log_error("DigitalOcean refused the token: check DIGITALOCEAN_TOKEN (it needs read "
			     "and write access to droplets, images, tags and domains; control panel, "
			     "API > Tokens)");
	return r;
}

static bool may_have_happened(struct ctx *c, int r)
{
	return r == -MK_ERR_NETWORK || (r == -MK_ERR_HTTP && c->api->last_status >= 500);
}

static bool ip_equal(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
		return !memcmp(x, y, 4);
	if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
		return !memcmp(x, y, 16);
	return false;
}

/* A host name in record data, compared without case and trailing dot; "@" is DOMAIN. */
static bool host_equal(const char *data, const char *host, const char *domain)
{
	if (!strcmp(data, "@"))
		data = domain;
	size_t a = strlen(data), b = strlen(host);
	if (a && data[a - 1] == '.')
		a--;
	if (b && host[b - 1] == '.')
		b--;
	return a == b && !strncasecmp(data, host, a);
}

static char *fqdn(const char *name, const char *domain)
{
	return !strcmp(name, "@") ? xstrdup(domain) : xasprintf("%s.%s", name, domain);
}

/* ---- records: what deploy wants, what exists, the plan ---- */

enum action { ACT_CREATE, ACT_UPDATE, ACT_DELETE, ACT_KEEP, ACT_CONFLICT };
static const char *const act_now[] = {"create", "update", "delete", "keep", "CONFLICT"};
static const char *const act_done[] = {"created", "updated", "deleted", "kept", "CONFLICT"};

struct step {
	enum action act;
	const struct dns_want *w; /* NULL for a delete by destroy */
	json_t *rec;          /* the existing record (borrowed from the list) */
	long long id;
	bool done;
};

struct plan {
	struct step *v;
	size_t n;
};

static void plan_add(struct plan *p, enum action a, const struct dns_want *w, json_t *rec)
{
	/* A CNAME in the way of both A and AAAA is one conflict, one delete. */
	for (size_t i = 0; rec && i < p->n; i++)
		if (p->v[i].rec == rec && p->v[i].act == a)
			return;
	p->v = xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = (struct step){.act = a, .w = w, .rec = rec, .id = rec ? do_api_int(rec, "id") : -1};
}

static void plan_release(struct plan *p)
{
	free(p->v);
	*p = (struct plan){0};
}

static bool record_matches(json_t *rec, const struct dns_want *w, const char *domain)
{
	const char *data = do_api_str(rec, "data");
	if (!strcmp(w->type, "A") || !strcmp(w->type, "AAAA"))
		return *w->data && ip_equal(data, w->data);
	if (!strcmp(w->type, "CAA"))
		return do_api_int(rec, "flags") == w->flags && !strcasecmp(do_api_str(rec, "tag"), w->tag) &&
		       host_equal(data, w->data, domain);
	if (!strcmp(w->type, "SRV"))
		return host_equal(data, w->data, domain) && do_api_int(rec, "priority") == w->priority &&
		       do_api_int(rec, "port") == w->port && do_api_int(rec, "weight") == w->weight;
	return false;
}

static json_t *want_body(const struct dns_want *w)
{
	json_t *b = json_pack("{s:s, s:s, s:s}", "type", w->type, "name", w->name, "data", w->data);
	if (!strcmp(w->type, "CAA")) {
		json_object_set_new(b, "flags", json_integer(w->flags));
		json_object_set_new(b, "tag", json_string(w->tag));
	} else if (!strcmp(w->type, "SRV")) {
		json_object_set_new(b, "priority", json_integer(w->priority));
		json_object_set_new(b, "port", json_integer(w->port));
		json_object_set_new(b, "weight", json_integer(w->weight));
		json_object_set_new(b, "flags", json_null());
		json_object_set_new(b, "tag", json_null());
	}
	return b;
}

/* The record as a zone file shows its data. */
static char *record_data_text(json_t *rec)
{
	const char *type = do_api_str(rec, "type");
	if (!strcmp(type, "CAA"))
		return xasprintf("%lld %s \"%s\"", do_api_int(rec, "flags"), do_api_str(rec, "tag"),
				 do_api_str(rec, "data"));
	if (!strcmp(type, "SRV"))
		return xasprintf("%lld %lld %lld %s", do_api_int(rec, "priority"),
				 do_api_int(rec, "weight"), do_api_int(rec, "port"),
				 do_api_str(rec, "data"));
	if (!strcmp(type, "MX"))
		return xasprintf("%lld %s", do_api_int(rec, "priority"), do_api_str(rec, "data"));
	return xstrdup(do_api_str(rec, "data"));
}

static char *want_data_text(const struct dns_want *w)
{
	if (!*w->data)
		return xasprintf("(the new droplet's %s)", !strcmp(w->type, "A") ? "IPv4" : "IPv6");
	json_t *b = want_body(w);
	char *s = record_data_text(b);
	json_decref(b);
	return s;
}

/*
 * For each wanted record: keep the one that is right, create it when there
 * is none, and for records of the same name and type that point elsewhere,
 * a conflict (or with REPLACE: update one, delete the others). CAA records
 * add up (several may exist): ours is added, others are left.
 */
static void plan_records(struct plan *p, const struct dns_want *wants, size_t nw, json_t *records,
			 const char *domain, bool replace)
{
	for (size_t i = 0; i < nw; i++) {
		const struct dns_want *w = &wants[i];
		json_t *match = NULL, *other[64];
		size_t no = 0, k;
		json_t *rec;
		json_array_foreach(records, k, rec) {
			if (strcasecmp(do_api_str(rec, "name"), w->name))
				continue;
			/* A CNAME cannot be beside an address record: it is in the way. */
			if (!strcmp(do_api_str(rec, "type"), "CNAME") &&
			    (!strcmp(w->type, "A") || !strcmp(w->type, "AAAA"))) {
				if (no < ELEMENTSOF(other))
					other[no++] = rec;
				continue;
			}
			if (strcmp(do_api_str(rec, "type"), w->type))
				continue;
			if (record_matches(rec, w, domain)) {
				if (!match)
					match = rec;
			} else if (strcmp(w->type, "CAA") && no < ELEMENTSOF(other)) {
				other[no++] = rec;
			}
		}
		if (match)
			plan_add(p, ACT_KEEP, w, match);
		if (no && !replace) {
			for (size_t j = 0; j < no; j++)
				plan_add(p, ACT_CONFLICT, w, other[j]);
			continue;
		}
		/* Deletes first: a CNAME must be gone before an A is made. */
		bool update = !match && no && strcmp(do_api_str(other[0], "type"), "CNAME");
		for (size_t j = update ? 1 : 0; j < no; j++)
			plan_add(p, ACT_DELETE, w, other[j]);
		if (update)
			plan_add(p, ACT_UPDATE, w, other[0]);
		else if (!match)
			plan_add(p, ACT_CREATE, w, NULL);
	}
}

static size_t plan_count(const struct plan *p, enum action a)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->v[i].act == a;
	return n;
}

static void print_plan(FILE *f, const struct plan *p, const char *domain, bool done)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct step *s = &p->v[i];
		_cleanup_free_ char *name = fqdn(s->w ? s->w->name : do_api_str(s->rec, "name"), domain);
		const char *type = s->rec && s->act != ACT_UPDATE ? do_api_str(s->rec, "type") : s->w->type;
		_cleanup_free_ char *data = NULL;
		if (s->act == ACT_CREATE || s->act == ACT_UPDATE)
			data = want_data_text(s->w);
		else
			data = record_data_text(s->rec);
		_cleanup_free_ char *was = s->act == ACT_UPDATE ? record_data_text(s->rec) : NULL;
		fprintf(f, "  %-8s %-28s %-5s %s%s%s%s\n", (done && s->done) ? act_done[s->act] : act_now[s->act],
			name, type, data, was ? " (was " : "", was ? was : "", was ? ")" : "");
	}
}

static json_t *plan_json(const struct plan *p, const char *domain, bool done)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->n; i++) {
		const struct step *s = &p->v[i];
		const char *name = s->w ? s->w->name : do_api_str(s->rec, "name");
		_cleanup_free_ char *fq = fqdn(name, domain);
		_cleanup_free_ char *data = s->act == ACT_CREATE || s->act == ACT_UPDATE
						    ? want_data_text(s->w) : record_data_text(s->rec);
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "action",
				      (done && s->done) ? act_done[s->act] : act_now[s->act], "name", name,
				      "fqdn", fq, "type",
				      s->rec && s->act != ACT_UPDATE ? do_api_str(s->rec, "type") : s->w->type,
				      "data", data);
		if (s->id > 0)
			json_object_set_new(o, "id", json_integer(s->id));
		if (s->act == ACT_UPDATE) {
			_cleanup_free_ char *was = record_data_text(s->rec);
			json_object_set_new(o, "was", json_string(was));
		}
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- deploy ---- */

struct deploy {
	struct ctx c;
	const char *site_path, *image, *region, *size, *name, *api_url;
	struct strv ssh_ids, pubkeys, tags;
	bool backups, monitoring, dry_run, json, replace;
	struct site site;
	char *user_data, *default_name;
	long long image_id;
	char image_name[256];
	json_t *droplet; /* found or made */
	bool created;
	struct dns_want wants[DNS_PLAN_MAX_WANTS];
	size_t nwants;
};

static void deploy_release(struct deploy *d)
{
	strv_release(&d->ssh_ids);
	strv_release(&d->pubkeys);
	strv_release(&d->tags);
	if (d->user_data) {
		explicit_bzero(d->user_data, strlen(d->user_data));
		free(d->user_data);
	}
	free(d->default_name);
	site_release(&d->site);
	json_decref(d->droplet);
	do_api_free(d->c.api);
}

static bool is_fingerprint(const char *s)
{
	/* MD5, as DigitalOcean shows it: 16 hex pairs with colons. */
	if (strlen(s) != 47)
		return false;
	for (int i = 0; i < 47; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	return true;
}

/* --ssh-key: a file of public keys, a public key (as `mkmesh seed` reads
 * them: site_args.c), a key id or fingerprint. */
static int add_ssh_key(struct deploy *d, const char *key)
{
	int r = site_args_add_key(&d->pubkeys, key);
	if (r == 0)
		return -1;
	if (r != -ENOENT)
		return 2;
	char *end;
	if ((strtoll(key, &end, 10) > 0 && !*end) || is_fingerprint(key)) {
		strv_push(&d->ssh_ids, key);
		return -1;
	}
	mk_log_error("cannot use --ssh-key '%s': give a public key file (~/.ssh/id_ed25519.pub), "
		     "a public key, or the id or fingerprint of a key in your DigitalOcean account "
		     "('doctl compute ssh-key list')", key);
	return 2;
}

static bool droplet_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > 255 || !isalnum((unsigned char)s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

static int deploy_args(struct deploy *d, int argc, char **argv)
{
	enum { O_SITE = 256, O_IMAGE, O_REGION, O_SIZE, O_KEY, O_NAME, O_TAG, O_BACKUPS,
	       O_MONITORING, O_DRY, O_JSON, O_API, O_REPLACE };
	static const struct option opts[] = {
		{"site", required_argument, NULL, O_SITE},
		{"image", required_argument, NULL, O_IMAGE},
		{"region", required_argument, NULL, O_REGION},
		{"size", required_argument, NULL, O_SIZE},
		{"ssh-key", required_argument, NULL, O_KEY},
		{"name", required_argument, NULL, O_NAME},
		{"tag", required_argument, NULL, O_TAG},
		{"backups", no_argument, NULL, O_BACKUPS},
		{"monitoring", no_argument, NULL, O_MONITORING},
		{"dry-run", no_argument, NULL, O_DRY},
		{"json", no_argument, NULL, O_JSON},
		{"api-url", required_argument, NULL, O_API},
		{"replace-records", no_argument, NULL, O_REPLACE},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c, r;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_SITE: d->site_path = optarg; break;
		case O_IMAGE: d->image = optarg; break;
		case O_REGION: d->region = optarg; break;
		case O_SIZE: d->size = optarg; break;
		case O_KEY:
			if ((r = add_ssh_key(d, optarg)) >= 0)
				return r;
			break;
		case O_NAME: d->name = optarg; break;
		case O_TAG: strv_push(&d->tags, optarg); break;
		case O_BACKUPS: d->backups = true; break;
		case O_MONITORING: d->monitoring = true; break;
		case O_DRY: d->dry_run = true; break;
		case O_JSON: d->json = true; break;
		case O_API: d->api_url = optarg; break;
		case O_REPLACE: d->replace = true; break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h': deploy_usage(stdout); return 0;
		default:
			fprintf(stderr, "mkmesh: 'mkmesh deploy --help' lists the options\n");
			return 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "droplet")) {
		_cleanup_free_ char *what = optind >= argc ? xstrdup("say what to deploy")
							   : xasprintf("cannot deploy '%s'", argv[optind]);
		mk_log_error("%s: only 'mkmesh deploy droplet' exists (a Raspberry Pi is deployed "
			     "with 'mkmesh flash rpi')", what);
		return 2;
	}
	if (++optind < argc) {
		mk_log_error("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!d->site_path || !d->region) {
		mk_log_error("missing %s: e.g. 'mkmesh deploy droplet --site site.json --region tor1 "
			     "--ssh-key ~/.ssh/id_ed25519.pub'", !d->site_path ? "--site" : "--region");
		return 2;
	}
	if (!d->ssh_ids.n && !d->pubkeys.n) {
		mk_log_error("missing --ssh-key: the image has no password login, so a droplet "
			     "without a key cannot be reached; give ~/.ssh/id_ed25519.pub or the id of "
			     "a key in your account");
		return 2;
	}
	if (d->name && !droplet_name_valid(d->name)) {
		mk_log_error("--name '%s' is not a droplet name (letters, digits, '.' and '-')", d->name);
		return 2;
	}
	if (!d->size)
		d->size = DEFAULT_SIZE;
	if (!d->tags.n)
		strv_push(&d->tags, DEFAULT_TAG);
	d->c.token = do_api_from_env(&d->api_url);
	if (!d->c.token) {
		mk_log_error("DIGITALOCEAN_TOKEN is not set: make a token (control panel, API > Tokens) "
			     "with access to droplets, images, tags and domains, and export it");
		return 2;
	}
	return -1;
}


/* The image to create from: --image (id or name) or the newest mkmesh one. */
static int find_image(struct deploy *d)
{
	json_t *img = NULL;
	char *end;
	long long id = d->image ? strtoll(d->image, &end, 10) : 0;
	int r;
	if (d->image && id > 0 && !*end) {
		r = do_api_image_get(d->c.api, id, &img, d->c.err, sizeof(d->c.err));
		if (r == -ENOENT) {
			mk_log_error("there is no image %lld in this account: 'doctl compute image "
				     "list-user' lists yours; 'mkmesh upload droplet' makes one", id);
			return r;
		}
		if (r < 0)
			return api_fail(&d->c, r, "reading the image failed");
	} else {
		json_t *all = NULL;
		r = do_api_image_list_private(d->c.api, &all, d->c.err, sizeof(d->c.err));
		if (r < 0)
			return api_fail(&d->c, r, "listing your images failed");
		size_t i;
		json_t *it;
		json_array_foreach(all, i, it) {
			const char *name = do_api_str(it, "name");
			if (d->image ? strcmp(name, d->image)
				     : (strncmp(name, IMAGE_PREFIX, strlen(IMAGE_PREFIX)) ||
					strcmp(do_api_str(it, "status"), "available")))
				continue;
			if (!img || strcmp(do_api_str(it, "created_at"), do_api_str(img, "created_at")) > 0 ||
			    (!strcmp(do_api_str(it, "created_at"), do_api_str(img, "created_at")) &&
			     do_api_int(it, "id") > do_api_int(img, "id")))
				img = it;
		}
		json_incref(img);
		json_decref(all);
		if (!img) {
			if (d->image)
				mk_log_error("there is no image named '%s' in this account: give its id or "
					     "name ('doctl compute image list-user')", d->image);
			else
				mk_log_error("there is no available image named " IMAGE_PREFIX "* in this "
					     "account: make one with 'mkmesh build droplet' and 'mkmesh "
					     "upload droplet', or name one with --image");
			return -ENOENT;
		}
	}
	d->image_id = do_api_int(img, "id");
	snprintf(d->image_name, sizeof(d->image_name), "%s", do_api_str(img, "name"));
	r = 0;
	if (strcmp(do_api_str(img, "status"), "available")) {
		mk_log_error("image %lld '%s' is '%s', not available: wait for its import to finish "
			     "(or make a new one with 'mkmesh upload droplet')",
			     d->image_id, d->image_name, do_api_str(img, "status"));
		r = -EAGAIN;
	} else {
		bool here = false;
		size_t i;
		json_t *reg;
		json_array_foreach(json_object_get(img, "regions"), i, reg)
			here |= json_is_string(reg) && !strcmp(json_string_value(reg), d->region);
		if (!here) {
			_cleanup_free_ char *list = json_dumps(json_object_get(img, "regions"), JSON_COMPACT);
			mk_log_error("image %lld '%s' is not in region '%s' (it is in %s): copy it there "
				     "with 'doctl compute image-action transfer %lld --region %s --wait' "
				     "(or upload with '--regions %s'), or deploy in one of its regions",
				     d->image_id, d->image_name, d->region, list ? list : "[]", d->image_id,
				     d->region, d->region);
			r = -ENOENT;
		}
	}
	json_decref(img);
	return r;
}

static int find_droplet(struct ctx *c, const char *name, json_t **out)
{
	json_t *all = NULL;
	int r = do_api_droplet_list(c->api, name, NULL, &all, c->err, sizeof(c->err));
	if (r < 0)
		return api_fail(c, r, "looking for the droplet failed");
	*out = NULL;
	size_t i;
	json_t *it;
	size_t n = 0;
	json_array_foreach(all, i, it) {
		if (strcasecmp(do_api_str(it, "name"), name))
			continue;
		n++;
		if (!*out)
			*out = json_incref(it);
	}
	if (n > 1) {
		mk_log_error("there are %zu droplets named '%s': mkmesh cannot tell which one is "
			     "meant; rename or delete the others ('doctl compute droplet list %s')",
			     n, name, name);
		json_decref(*out);
		*out = NULL;
		r = -EEXIST;
	}
	json_decref(all);
	return r;
}

/* The droplet, created unless it is there; a lost answer is looked for first. */
static int create_droplet(struct deploy *d)
{
	struct do_droplet_new in = {
		.name = d->name,
		.region = d->region,
		.size = d->size,
		.image_id = d->image_id,
		.ssh_keys = &d->ssh_ids,
		.tags = &d->tags,
		.user_data = d->user_data,
		.ipv6 = true,
		.backups = d->backups,
		.monitoring = d->monitoring,
	};
	for (unsigned attempt = 1;; attempt++) {
		int r = do_api_droplet_create(d->c.api, &in, &d->droplet, d->c.err, sizeof(d->c.err));
		if (r == 0) {
			d->created = true;
			return 0;
		}
		if (!may_have_happened(&d->c, r) || attempt >= CREATE_TRIES)
			return api_fail(&d->c, r, "creating the droplet failed");
		scrub_secrets(&d->c);
		mk_log_info("%s; looking whether the droplet was made before asking again", d->c.err);
		if (http_sleep(http_backoff(attempt, NULL), false) < 0)
			return -MK_ERR_INTERRUPTED;
		r = find_droplet(&d->c, d->name, &d->droplet);
		if (r < 0)
			return r;
		if (d->droplet) {
			d->created = true;
			return 0;
		}
	}
}

/* Until the droplet is active and has its public addresses. */
static int wait_active(struct deploy *d)
{
	double poll = mk_env_seconds("MKMESH_POLL_SECONDS", 5);
	double timeout = mk_env_seconds("MKMESH_DEPLOY_TIMEOUT", 600);
	double deadline = mk_now() + timeout;
	long long id = do_api_int(d->droplet, "id");
	char last[32] = "";
	for (;;) {
		const char *status = do_api_str(d->droplet, "status");
		if (strcmp(status, last)) {
			mk_log_info("droplet %lld '%s': %s", id, d->name, status);
			snprintf(last, sizeof(last), "%s", status);
		}
		if (!strcmp(status, "active") && *do_api_droplet_address(d->droplet, "v4"))
			return 0;
		if (!strcmp(status, "off") || !strcmp(status, "archive")) {
			mk_log_error("droplet %lld '%s' is '%s': power it on ('doctl compute droplet-action "
				     "power-on %lld'), then run this again", id, d->name, status, id);
			return -EINVAL;
		}
		if (mk_now() > deadline) {
			mk_log_error("droplet %lld '%s' is still '%s' after %.0f s; look at it in the "
				     "control panel, then run this again (it carries on from there)",
				     id, d->name, status, timeout);
			return -ETIMEDOUT;
		}
		if (http_sleep(poll, false) < 0)
			return -MK_ERR_INTERRUPTED;
		json_t *again = NULL;
		int r = do_api_droplet_get(d->c.api, id, &again, d->c.err, sizeof(d->c.err));
		if (r < 0)
			return api_fail(&d->c, r, "waiting for the droplet failed");
		json_decref(d->droplet);
		d->droplet = again;
	}
}

static int list_records(struct ctx *c, const char *domain, json_t **out)
{
	int r = do_api_record_list(c->api, domain, NULL, NULL, out, c->err, sizeof(c->err));
	if (r < 0)
		return api_fail(c, r, "reading the domain's records failed");
	return 0;
}

/* Create W; after a 5xx or a lost answer, look whether it was made first. */
static int create_record(struct deploy *d, const struct dns_want *w, long long *id)
{
	json_t *body = want_body(w);
	int r;
	for (unsigned attempt = 1;; attempt++) {
		json_t *rec = NULL;
		r = do_api_record_create(d->c.api, d->site.domain, body, &rec, d->c.err,
					 sizeof(d->c.err));
		if (r == 0) {
			*id = do_api_int(rec, "id");
			json_decref(rec);
			break;
		}
		if (!may_have_happened(&d->c, r) || attempt >= CREATE_TRIES) {
			api_fail(&d->c, r, "making a DNS record failed");
			break;
		}
		mk_log_info("%s; looking whether the record was made before asking again", d->c.err);
		if (http_sleep(http_backoff(attempt, NULL), false) < 0) {
			r = -MK_ERR_INTERRUPTED;
			break;
		}
		_cleanup_free_ char *fq = fqdn(w->name, d->site.domain);
		json_t *found = NULL;
		r = do_api_record_list(d->c.api, d->site.domain, fq, w->type, &found, d->c.err,
				       sizeof(d->c.err));
		if (r < 0) {
			api_fail(&d->c, r, "reading the domain's records failed");
			break;
		}
		size_t i;
		json_t *it;
		*id = -1;
		json_array_foreach(found, i, it) {
			if (!strcasecmp(do_api_str(it, "name"), w->name) && record_matches(it, w, d->site.domain))
				*id = do_api_int(it, "id");
		}
		json_decref(found);
		if (*id > 0)
			break;
	}
	json_decref(body);
	return r;
}

static int apply_plan(struct deploy *d, struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct step *s = &p->v[i];
		int r = 0;
		json_t *out = NULL, *body = NULL;
		switch (s->act) {
		case ACT_CREATE:
			r = create_record(d, s->w, &s->id);
			break;
		case ACT_UPDATE:
			body = want_body(s->w);
			r = do_api_record_update(d->c.api, d->site.domain, s->id, body, &out, d->c.err,
						 sizeof(d->c.err));
			json_decref(body);
			json_decref(out);
			if (r < 0)
				api_fail(&d->c, r, "changing a DNS record failed");
			break;
		case ACT_DELETE:
			r = do_api_record_delete(d->c.api, d->site.domain, s->id, d->c.err,
						 sizeof(d->c.err));
			if (r < 0)
				api_fail(&d->c, r, "deleting a DNS record failed");
			break;
		default:
			break;
		}
		if (r < 0)
			return r;
		s->done = true;
	}
	return 0;
}

static void print_conflicts(struct deploy *d, const struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct step *s = &p->v[i];
		if (s->act != ACT_CONFLICT)
			continue;
		_cleanup_free_ char *name = fqdn(s->w->name, d->site.domain);
		_cleanup_free_ char *data = record_data_text(s->rec);
		_cleanup_free_ char *want = want_data_text(s->w);
		mk_log_error("record '%s %s %s' (id %lld) points elsewhere, not at %s; deploy does not "
			     "overwrite it", name, do_api_str(s->rec, "type"), data, s->id, want);
	}
	mk_log_error("nothing was changed: delete %s ('doctl compute domain records delete %s ID'), "
		     "or run again with --replace-records to point %s at this droplet",
		     plan_count(p, ACT_CONFLICT) > 1 ? "those records" : "that record", d->site.domain,
		     plan_count(p, ACT_CONFLICT) > 1 ? "them" : "it");
}

static void print_result(struct deploy *d, const struct plan *p)
{
	const char *v4 = d->droplet ? do_api_droplet_address(d->droplet, "v4") : "";
	const char *v6 = d->droplet ? do_api_droplet_address(d->droplet, "v6") : "";
	const char *D = d->site.domain;
	const char *dact = d->dry_run ? (d->droplet ? "keep" : "create") : d->created ? "created" : "kept";
	if (d->json) {
		json_t *drop = json_pack("{s:s, s:s, s:s, s:s}", "action", dact, "name", d->name,
					 "region", d->droplet ? do_api_str(json_object_get(d->droplet, "region"), "slug")
							      : d->region,
					 "size", d->droplet ? do_api_str(d->droplet, "size_slug") : d->size);
		if (d->droplet) {
			json_object_set_new(drop, "id", json_integer(do_api_int(d->droplet, "id")));
			json_object_set_new(drop, "status", json_string(do_api_str(d->droplet, "status")));
			json_object_set_new(drop, "ipv4", json_string(v4));
			json_object_set_new(drop, "ipv6", *v6 ? json_string(v6) : json_null());
		} else {
			json_object_set_new(drop, "image", json_integer(d->image_id));
			json_object_set_new(drop, "image_name", json_string(d->image_name));
			json_object_set_new(drop, "user_data_bytes", json_integer((json_int_t)strlen(d->user_data)));
		}
		_cleanup_free_ char *u1 = xasprintf("https://chat.%s", D);
		_cleanup_free_ char *u2 = xasprintf("https://matrix.%s", D);
		json_t *o = json_pack("{s:b, s:s, s:o, s:o, s:[s,s]}", "dry_run", d->dry_run, "domain", D,
				      "droplet", drop, "records", plan_json(p, D, !d->dry_run), "urls",
				      u1, u2);
		json_dumpf(o, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
		return;
	}
	if (d->dry_run)
		printf("plan (dry run: nothing was changed)\n");
	if (d->droplet) {
		printf("droplet %s (id %lld, %s, %s): %s\n", d->name, do_api_int(d->droplet, "id"),
		       do_api_str(json_object_get(d->droplet, "region"), "slug"),
		       do_api_str(d->droplet, "size_slug"), dact);
		printf("  ipv4 %s\n  ipv6 %s\n", *v4 ? v4 : "-", *v6 ? v6 : "- (IPv6 is off)");
	} else {
		printf("droplet %s (%s, %s, image %lld '%s', ipv6, tags %s%s%s): %s\n", d->name, d->region,
		       d->size, d->image_id, d->image_name, d->tags.v[0], d->backups ? ", backups" : "",
		       d->monitoring ? ", monitoring" : "", dact);
		printf("  user-data: %zu bytes of %d (#cloud-config: /etc/mkmesh/site.json, %zu SSH key%s)\n",
		       strlen(d->user_data), SITE_USER_DATA_MAX, d->pubkeys.n, d->pubkeys.n == 1 ? "" : "s");
	}
	printf("records in %s:\n", D);
	print_plan(stdout, p, D, !d->dry_run);
	printf("urls:\n  https://chat.%s      Element, the web client\n"
	       "  https://matrix.%s    the Matrix homeserver (federation: port 8448, SRV _matrix._tcp)\n",
	       D, D);
	if (!d->dry_run)
		printf("next: the machine sets itself up on first boot (a few minutes; certificates "
		       "follow when DNS has spread);\n      'ssh debian@%s mkmesh-status' shows how far it got\n",
		       *v4 ? v4 : "ADDRESS");
}

static int deploy_run(struct deploy *d)
{
	if (site_args_load(&d->site, d->site_path) < 0)
		return 1;
	d->c.site_token = d->site.digitalocean_token;
	d->c.site_doc = d->site.doc;
	if (d->site.digitalocean_token && !strcmp(d->site.digitalocean_token, d->c.token))
		mk_log_warn("the site file carries the same token as DIGITALOCEAN_TOKEN: the machine "
			    "only needs a token scoped to domain read/update (README: 'a token for the "
			    "machine')");
	d->user_data = site_user_data(&d->site, &d->pubkeys);
	size_t ud = strlen(d->user_data);
	if (ud > SITE_USER_DATA_MAX) {
		mk_log_error("the user-data would be %zu bytes; DigitalOcean takes at most %d (64 KiB): "
			     "make the site file or the key list smaller", ud, SITE_USER_DATA_MAX);
		return 1;
	}
	if (!d->name)
		d->name = d->default_name = site_args_default_name(d->site.domain);

	d->c.api = do_api_new(d->api_url, d->c.token);
	d->c.api->debug = debug_cb;
	d->c.api->notice = notice_cb;
	const char *D = d->site.domain;

	/* Look at everything first: the domain, the droplet, the records. */
	json_t *dom = NULL;
	int r = do_api_domain_get(d->c.api, D, &dom, d->c.err, sizeof(d->c.err));
	json_decref(dom);
	if (r == -ENOENT) {
		mk_log_error("the domain '%s' is not in DigitalOcean DNS: add it with 'doctl compute "
			     "domain create %s' or in the control panel (Networking > Domains), and "
			     "let the registrar point it at ns1, ns2 and ns3.digitalocean.com; then run "
			     "this again", D, D);
		return 1;
	}
	if (r < 0)
		return api_fail(&d->c, r, "reading the domain failed"), 1;
	if ((r = find_droplet(&d->c, d->name, &d->droplet)) < 0)
		return 1;
	if (!d->droplet && find_image(d) < 0)
		return 1;
	if (d->droplet) {
		mk_log_info("droplet '%s' exists (id %lld, %s): using it", d->name,
			    do_api_int(d->droplet, "id"), do_api_str(d->droplet, "status"));
		const char *reg = do_api_str(json_object_get(d->droplet, "region"), "slug");
		if (*reg && strcmp(reg, d->region))
			mk_log_warn("droplet '%s' is in '%s', not '%s'; it is used as it is", d->name, reg,
				    d->region);
	}

	_cleanup_(plan_release) struct plan plan = {0};
	json_t *records = NULL;
	if (list_records(&d->c, D, &records) < 0)
		return 1;
	bool known = d->droplet && *do_api_droplet_address(d->droplet, "v4");
	d->nwants = dns_plan_wants(D, known ? do_api_droplet_address(d->droplet, "v4") : NULL,
				   known ? do_api_droplet_address(d->droplet, "v6") : NULL, d->wants);
	plan_records(&plan, d->wants, d->nwants, records, D, d->replace);
	if (plan_count(&plan, ACT_CONFLICT)) {
		print_conflicts(d, &plan);
		json_decref(records);
		return 1;
	}
	if (d->dry_run) {
		print_result(d, &plan);
		json_decref(records);
		return 0;
	}
	plan_release(&plan);
	json_decref(records);
	records = NULL;

	if (!d->droplet) {
		mk_log_info("creating droplet '%s' in '%s' (%s) from image %lld '%s'", d->name, d->region,
			    d->size, d->image_id, d->image_name);
		if ((r = create_droplet(d)) < 0)
			return 1;
	}
	if ((r = wait_active(d)) < 0) {
		if (r == -MK_ERR_INTERRUPTED)
			mk_log_error("interrupted; droplet '%s' (id %lld) exists: run this again to make its "
				     "records, or 'mkmesh destroy droplet %s'", d->name,
				     do_api_int(d->droplet, "id"), d->name);
		return 1;
	}
	const char *v6 = do_api_droplet_address(d->droplet, "v6");
	if (!*v6)
		mk_log_warn("droplet '%s' has no IPv6 address, so no AAAA records are made: turn it on "
			    "with 'doctl compute droplet-action enable-ipv6 %lld', then run this again",
			    d->name, do_api_int(d->droplet, "id"));

	/* Again with the real addresses: someone may have added a record meanwhile. */
	if (list_records(&d->c, D, &records) < 0)
		return 1;
	d->nwants = dns_plan_wants(D, do_api_droplet_address(d->droplet, "v4"), v6, d->wants);
	plan_records(&plan, d->wants, d->nwants, records, D, d->replace);
	if (plan_count(&plan, ACT_CONFLICT)) {
		print_conflicts(d, &plan);
		mk_log_error("droplet '%s' (id %lld) is running; run this again once the records are "
			     "sorted out", d->name, do_api_int(d->droplet, "id"));
		json_decref(records);
		return 1;
	}
	r = apply_plan(d, &plan);
	if (r < 0) {
		mk_log_error("droplet '%s' (id %lld) is running, some records are not made; run this "
			     "again to finish", d->name, do_api_int(d->droplet, "id"));
		json_decref(records);
		return 1;
	}
	print_result(d, &plan); /* the plan borrows from records */
	json_decref(records);
	return 0;
}

int cmd_deploy(int argc, char **argv)
{
	struct deploy d = {0};
	int ret = deploy_args(&d, argc, argv);
	if (ret >= 0) {
		deploy_release(&d);
		return ret;
	}
	struct sigaction old[3];
	http_catch_signals(old);
	ret = deploy_run(&d);
	fflush(stdout);
	http_restore_signals(old);
	deploy_release(&d);
	return ret;
}

/* ---- destroy ---- */

struct destroy {
	struct ctx c;
	const char *name, *domain, *site_path, *api_url;
	bool yes, dry_run, json;
	struct site site;
	json_t *droplet;
	struct strv addrs;
	/* per domain: the records to delete */
	struct {
		char *domain;
		json_t *records;
		struct plan plan;
		struct strv left_mesh; /* h.* records left, for the user */
	} *doms;
	size_t ndoms;
};

static void destroy_release(struct destroy *x)
{
	for (size_t i = 0; i < x->ndoms; i++) {
		free(x->doms[i].domain);
		json_decref(x->doms[i].records);
		plan_release(&x->doms[i].plan);
		strv_release(&x->doms[i].left_mesh);
	}
	free(x->doms);
	strv_release(&x->addrs);
	json_decref(x->droplet);
	site_release(&x->site);
	do_api_free(x->c.api);
}

static int destroy_args(struct destroy *x, int argc, char **argv)
{
	enum { O_YES = 256, O_DOMAIN, O_SITE, O_DRY, O_JSON, O_API };
	static const struct option opts[] = {
		{"yes", no_argument, NULL, O_YES},
		{"domain", required_argument, NULL, O_DOMAIN},
		{"site", required_argument, NULL, O_SITE},
		{"dry-run", no_argument, NULL, O_DRY},
		{"json", no_argument, NULL, O_JSON},
		{"api-url", required_argument, NULL, O_API},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "vqhy", opts, NULL)) != -1) {
		switch (c) {
		case 'y':
		case O_YES: x->yes = true; break;
		case O_DOMAIN: x->domain = optarg; break;
		case O_SITE: x->site_path = optarg; break;
		case O_DRY: x->dry_run = true; break;
		case O_JSON: x->json = true; break;
		case O_API: x->api_url = optarg; break;
		case 'v': mk_verbosity = 2; break;
		case 'q': mk_verbosity = 0; break;
		case 'h': destroy_usage(stdout); return 0;
		default:
			fprintf(stderr, "mkmesh: 'mkmesh destroy --help' lists the options\n");
			return 2;
		}
	}
	if (optind >= argc || strcmp(argv[optind], "droplet")) {
		mk_log_error("%s: 'mkmesh destroy droplet NAME'",
			     optind >= argc ? "say what to destroy" : "only droplets can be destroyed");
		return 2;
	}
	if (++optind >= argc) {
		mk_log_error("say which droplet: 'mkmesh destroy droplet NAME' ('doctl compute droplet "
			     "list --tag-name mkmesh' lists them)");
		return 2;
	}
	x->name = argv[optind++];
	if (optind < argc) {
		mk_log_error("unexpected argument '%s'; give one droplet NAME", argv[optind]);
		return 2;
	}
	if (x->domain && x->site_path) {
		mk_log_error("give --domain or --site, not both");
		return 2;
	}
	if (x->domain && !site_domain_valid(x->domain)) {
		mk_log_error("--domain '%s' is not a lower-case DNS name like example.org", x->domain);
		return 2;
	}
	x->c.token = do_api_from_env(&x->api_url);
	if (!x->c.token) {
		mk_log_error("DIGITALOCEAN_TOKEN is not set: export the token 'mkmesh deploy' used");
		return 2;
	}
	return -1;
}

static bool points_at(const struct destroy *x, const char *data)
{
	for (size_t i = 0; i < x->addrs.n; i++)
		if (ip_equal(data, x->addrs.v[i]))
			return true;
	return false;
}

static bool is_mesh_address(const char *data)
{
	unsigned char a[16];
	return inet_pton(AF_INET6, data, a) == 1 && a[0] == 0xfc;
}

/*
 * The records of DOMAIN that point at the droplet: A/AAAA with one of its
 * addresses; the SRV _matrix._tcp -> matrix.DOMAIN when matrix's A record
 * does; the CAA letsencrypt records of matrix and chat when no other
 * address record is left at that name.
 */
static void plan_destroy(struct destroy *x, const char *domain, json_t *records, struct plan *p,
			 struct strv *left_mesh)
{
	size_t i;
	json_t *rec;
	bool matrix_a = false;
	json_array_foreach(records, i, rec) {
		const char *type = do_api_str(rec, "type");
		if ((!strcmp(type, "A") || !strcmp(type, "AAAA")) && points_at(x, do_api_str(rec, "data"))) {
			plan_add(p, ACT_DELETE, NULL, rec);
			matrix_a |= !strcmp(type, "A") && !strcasecmp(do_api_str(rec, "name"), "matrix");
		}
	}
	_cleanup_free_ char *target = xasprintf("matrix.%s", domain);
	static const char *const hosts[] = {"matrix", "chat"};
	json_array_foreach(records, i, rec) {
		const char *type = do_api_str(rec, "type"), *name = do_api_str(rec, "name");
		if (!strcmp(type, "SRV") && matrix_a && !strcasecmp(name, "_matrix._tcp") &&
		    host_equal(do_api_str(rec, "data"), target, domain))
			plan_add(p, ACT_DELETE, NULL, rec);
		if (!strcmp(type, "AAAA") && (!strcasecmp(name, "h.matrix") || !strcasecmp(name, "h.chat")) &&
		    is_mesh_address(do_api_str(rec, "data"))) {
			_cleanup_free_ char *fq = fqdn(name, domain);
			strv_push_take(left_mesh, xasprintf("%s AAAA %s (id %lld)", fq, do_api_str(rec, "data"),
							    do_api_int(rec, "id")));
		}
		if (strcmp(type, "CAA") || strcmp(do_api_str(rec, "tag"), "issue") ||
		    do_api_int(rec, "flags") != 0 || !host_equal(do_api_str(rec, "data"), "letsencrypt.org", domain))
			continue;
		for (size_t h = 0; h < ELEMENTSOF(hosts); h++) {
			if (strcasecmp(name, hosts[h]))
				continue;
			/* Did this name point at the droplet, and only at it? */
			bool ours = false, others = false;
			size_t j;
			json_t *r2;
			json_array_foreach(records, j, r2) {
				const char *t2 = do_api_str(r2, "type");
				if (strcasecmp(do_api_str(r2, "name"), name) ||
				    (strcmp(t2, "A") && strcmp(t2, "AAAA") && strcmp(t2, "CNAME")))
					continue;
				if (strcmp(t2, "CNAME") && points_at(x, do_api_str(r2, "data")))
					ours = true;
				else
					others = true;
			}
			if (ours && !others)
				plan_add(p, ACT_DELETE, NULL, rec);
		}
	}
}

static int confirm(struct destroy *x, size_t nrec)
{
	if (x->yes)
		return 0;
	if (!isatty(STDIN_FILENO)) {
		mk_log_error("refusing to destroy droplet '%s' without a confirmation: stdin is not a "
			     "terminal, so nobody can be asked; add --yes (after a look with --dry-run)",
			     x->name);
		return -ECANCELED;
	}
	fprintf(stderr, "destroy droplet '%s' (id %lld) and delete %zu DNS record%s? [y/N] ", x->name,
		do_api_int(x->droplet, "id"), nrec, nrec == 1 ? "" : "s");
	fflush(stderr);
	char line[64] = "";
	if (!fgets(line, sizeof(line), stdin) || (strcasecmp(line, "y\n") && strcasecmp(line, "yes\n"))) {
		mk_log_error("not confirmed; nothing was changed");
		return -ECANCELED;
	}
	return 0;
}

static void destroy_print(struct destroy *x, bool done)
{
	long long id = do_api_int(x->droplet, "id");
	if (x->json) {
		json_t *doms = json_object();
		for (size_t i = 0; i < x->ndoms; i++)
			json_object_set_new(doms, x->doms[i].domain,
					    plan_json(&x->doms[i].plan, x->doms[i].domain, done));
		json_t *addrs = json_array();
		for (size_t i = 0; i < x->addrs.n; i++)
			json_array_append_new(addrs, json_string(x->addrs.v[i]));
		json_t *o = json_pack("{s:b, s:{s:s, s:I, s:s, s:o}, s:o}", "dry_run", x->dry_run,
				      "droplet", "action", done ? "deleted" : "delete", "id", (json_int_t)id,
				      "name", x->name, "addresses", addrs, "records", doms);
		json_dumpf(o, stdout, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
		return;
	}
	/* The result (what a dry run would delete, what was deleted) goes to
	 * stdout; the plan shown before the question goes to stderr, beside
	 * the question. */
	FILE *f = done || x->dry_run ? stdout : stderr;
	if (x->dry_run)
		fprintf(f, "plan (dry run: nothing was changed)\n");
	fprintf(f, "droplet %s (id %lld", x->name, id);
	for (size_t i = 0; i < x->addrs.n; i++)
		fprintf(f, ", %s", x->addrs.v[i]);
	fprintf(f, "): %s\n", done ? "deleted" : "delete");
	for (size_t i = 0; i < x->ndoms; i++) {
		if (!x->doms[i].plan.n && !x->doms[i].left_mesh.n)
			continue;
		fprintf(f, "records in %s:\n", x->doms[i].domain);
		for (size_t j = 0; j < x->doms[i].plan.n; j++)
			x->doms[i].plan.v[j].done = done;
		print_plan(f, &x->doms[i].plan, x->doms[i].domain, done);
		for (size_t j = 0; j < x->doms[i].left_mesh.n; j++)
			fprintf(f, "  %-8s %s: the machine's mesh address, which the API cannot tie to "
				"the droplet; delete it by hand if the machine is gone\n", "left",
				x->doms[i].left_mesh.v[j]);
	}
}

static int destroy_run(struct destroy *x)
{
	if (x->site_path) {
		if (site_args_load(&x->site, x->site_path) < 0)
			return 1;
		x->domain = x->site.domain;
		x->c.site_token = x->site.digitalocean_token;
		x->c.site_doc = x->site.doc;
	}
	x->c.api = do_api_new(x->api_url, x->c.token);
	x->c.api->debug = debug_cb;
	x->c.api->notice = notice_cb;
	if (find_droplet(&x->c, x->name, &x->droplet) < 0)
		return 1;
	if (!x->droplet) {
		mk_log_error("there is no droplet named '%s' ('doctl compute droplet list' shows yours); "
			     "nothing was changed", x->name);
		return 1;
	}
	static const char *const vs[] = {"v4", "v6"};
	for (size_t v = 0; v < 2; v++) {
		size_t i;
		json_t *n;
		json_array_foreach(json_object_get(json_object_get(x->droplet, "networks"), vs[v]), i, n)
			if (!strcmp(do_api_str(n, "type"), "public") && *do_api_str(n, "ip_address"))
				strv_push(&x->addrs, do_api_str(n, "ip_address"));
	}
	json_t *domains = NULL;
	if (x->domain) {
		json_t *dom = NULL;
		int r = do_api_domain_get(x->c.api, x->domain, &dom, x->c.err, sizeof(x->c.err));
		json_decref(dom);
		if (r == -ENOENT) {
			mk_log_error("the domain '%s' is not in DigitalOcean DNS ('doctl compute domain "
				     "list' shows yours)", x->domain);
			return 1;
		}
		if (r < 0)
			return api_fail(&x->c, r, "reading the domain failed"), 1;
		domains = json_pack("[{s:s}]", "name", x->domain);
	} else {
		int r = do_api_domain_list(x->c.api, &domains, x->c.err, sizeof(x->c.err));
		if (r < 0)
			return api_fail(&x->c, r, "listing your domains failed"), 1;
	}
	size_t nrec = 0, i;
	json_t *dom;
	x->doms = xcalloc(json_array_size(domains) + 1, sizeof(*x->doms));
	json_array_foreach(domains, i, dom) {
		const char *name = do_api_str(dom, "name");
		typeof(x->doms[0]) *e = &x->doms[x->ndoms++];
		e->domain = xstrdup(name);
		if (list_records(&x->c, name, &e->records) < 0) {
			json_decref(domains);
			return 1;
		}
		plan_destroy(x, name, e->records, &e->plan, &e->left_mesh);
		nrec += e->plan.n;
	}
	json_decref(domains);
	if (x->dry_run) {
		destroy_print(x, false);
		return 0;
	}
	if (!x->yes && !x->json && isatty(STDIN_FILENO))
		destroy_print(x, false);
	if (confirm(x, nrec) < 0)
		return 2;
	/* Records first: when interrupted, the droplet is still there to run this again on. */
	for (size_t k = 0; k < x->ndoms; k++) {
		for (size_t j = 0; j < x->doms[k].plan.n; j++) {
			int r = do_api_record_delete(x->c.api, x->doms[k].domain, x->doms[k].plan.v[j].id,
						     x->c.err, sizeof(x->c.err));
			if (r < 0) {
				api_fail(&x->c, r, "deleting a DNS record failed");
				mk_log_error("droplet '%s' is not deleted yet; run this again to finish",
					     x->name);
				return 1;
			}
		}
	}
	int r = do_api_droplet_delete(x->c.api, do_api_int(x->droplet, "id"), x->c.err, sizeof(x->c.err));
	if (r < 0 && r != -ENOENT) {
		api_fail(&x->c, r, "deleting the droplet failed");
		return 1;
	}
	destroy_print(x, true);
	return 0;
}

int cmd_destroy(int argc, char **argv)
{
	struct destroy x = {0};
	int ret = destroy_args(&x, argc, argv);
	if (ret >= 0) {
		destroy_release(&x);
		return ret;
	}
	struct sigaction old[3];
	http_catch_signals(old);
	ret = destroy_run(&x);
	fflush(stdout);
	http_restore_signals(old);
	destroy_release(&x);
	return ret;
}
