/* cmd_ghost.c - `revenant ghost check` and `revenant ghost purge-posts`. */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "core/config.h"
#include "core/mem.h"
#include "core/util.h"
#include "ghost/client.h"
#include "ghost/purge.h"

#define KEY_FILE_MAX 4096

static void usage(FILE *f)
{
	fprintf(f,
		"usage: revenant ghost check --url URL [--key-file F | --key-env VAR]\n"
		"       revenant ghost purge-posts --url URL (--key-file F | --key-env VAR)\n"
		"                [--filter NQL] [--dry-run] [--yes] [--include-pages] [--jobs N]\n"
		"\n"
		"check        is the site reachable, is it Ghost (version), does its configured\n"
		"             URL match URL, is the Admin API key accepted; one line each.\n"
		"purge-posts  delete every post matching the NQL filter (drafts, scheduled and\n"
		"             published; all posts without --filter), one by one, then browse\n"
		"             again until none is left.  Pages only with --include-pages.\n"
		"\n"
		"  --url URL         the site's URL as configured in Ghost\n"
		"  --key-file F      file holding the Admin API key id:secret ('-' = stdin)\n"
		"  --key-env VAR     environment variable holding the key\n"
		"  (without --url/--key-*: ghost.url and ghost.admin_key or ghost.admin_key_file\n"
		"  of the configuration)\n"
		"                    (the key is never taken from the command line: ps shows it)\n"
		"  --filter NQL      Ghost filter, e.g. 'tag:old' or 'status:draft'\n"
		"  --dry-run         list what matches, delete nothing\n"
		"  --yes             do not ask (required when stdin is not a terminal)\n"
		"  --include-pages   purge pages matching the filter too\n"
		"  --jobs N          parallel deletes (default 4, at most 64)\n"
		"\n"
		"exit codes: 0 ok; 1 a check failed (site URL mismatch, Ghost too old) or some\n"
		"objects could not be deleted; 2 bad usage, malformed key or no confirmation;\n"
		"3 site unreachable; 4 key rejected; 7 the URL is not a Ghost site.\n");
}

struct ghost_args {
	const char *url;
	const char *key_file;
	const char *key_env;
	const struct rv_config *cfg; /* ghost.url and ghost.admin_key as defaults */
	const char *filter;
	bool dry_run, yes, include_pages;
	unsigned jobs;
};

static int parse_args(int argc, char **argv, bool purge, struct ghost_args *a)
{
	static const struct option opts[] = {
	    {"url", required_argument, NULL, 'u'},
	    {"key-file", required_argument, NULL, 'k'},
	    {"key-env", required_argument, NULL, 'e'},
	    {"filter", required_argument, NULL, 'f'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"yes", no_argument, NULL, 'y'},
	    {"include-pages", no_argument, NULL, 'p'},
	    {"jobs", required_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t v;
	int c;

	const struct rv_config *cfg = a->cfg;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->jobs = 4;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (!purge && (c == 'f' || c == 'n' || c == 'y' || c == 'p' || c == 'j'))
			return rv_error(RV_EUSAGE, "'ghost check' takes only --url, --key-file, "
						   "--key-env");
		switch (c) {
		case 'u':
			a->url = optarg;
			break;
		case 'k':
			a->key_file = optarg;
			break;
		case 'e':
			a->key_env = optarg;
			break;
		case 'f':
			a->filter = optarg;
			break;
		case 'n':
			a->dry_run = true;
			break;
		case 'y':
			a->yes = true;
			break;
		case 'p':
			a->include_pages = true;
			break;
		case 'j':
			if (rv_parse_u64(optarg, &v) || v < 1 || v > 64)
				return rv_error(RV_EUSAGE,
						"--jobs '%s': give a number from 1 to 64", optarg);
			a->jobs = (unsigned)v;
			break;
		default:
			return rv_error(RV_EUSAGE,
					"unknown or incomplete option '%s' (see revenant "
					"ghost --help)",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return rv_error(RV_EUSAGE,
				"unexpected argument '%s' (the key goes in --key-file "
				"or --key-env)",
				argv[optind]);
	if (!a->url && a->cfg)
		a->url = a->cfg->ghost.url;
	if (!a->url)
		return rv_error(RV_EUSAGE, "--url is required (the site's URL; or ghost.url in the "
					   "configuration)");
	if (a->key_file && a->key_env)
		return rv_error(RV_EUSAGE, "give --key-file or --key-env, not both");
	if (purge && !a->key_file && !a->key_env && !(a->cfg && a->cfg->ghost.admin_key))
		return rv_error(RV_EUSAGE, "purge-posts needs the Admin API key: --key-file F, "
					   "--key-env VAR, or ghost.admin_key(_file) in the "
					   "configuration");
	if (a->filter && !*a->filter)
		return rv_error(RV_EUSAGE, "--filter is empty: leave it out to purge every post");
	return 0;
}

static int read_stdin_key(char **out)
{
	struct rv_buf b = RV_BUF_INIT(KEY_FILE_MAX);
	char chunk[512];

	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return rv_error_errno(RV_EFAIL, errno, "cannot read the key from stdin");
		if (n == 0)
			break;
		if (rv_buf_add(&b, chunk, (size_t)n)) {
			OPENSSL_cleanse(chunk, sizeof(chunk));
			if (b.data)
				OPENSSL_cleanse(b.data, b.len);
			rv_buf_release(&b);
			return rv_error(RV_EUSAGE, "standard input holds more than a key");
		}
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	*out = rv_buf_detach(&b, NULL);
	return 0;
}

static int load_key(const struct ghost_args *a, struct rv_ghost_key *key)
{
	char source[300];
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!a->key_env && !a->key_file) {
		snprintf(source, sizeof(source), "%s: ghost.admin_key", a->cfg->source);
		return rv_ghost_key_parse(key, a->cfg->ghost.admin_key, source);
	}
	if (a->key_env) {
		const char *v = getenv(a->key_env);
		if (!v || !*v)
			return rv_error(RV_EUSAGE, "environment variable %s (--key-env) is not set",
					a->key_env);
		snprintf(source, sizeof(source), "$%s", a->key_env);
		return rv_ghost_key_parse(key, v, source);
	}
	if (!strcmp(a->key_file, "-")) {
		snprintf(source, sizeof(source), "standard input");
		rc = read_stdin_key(&text);
	} else {
		snprintf(source, sizeof(source), "key file '%s'", a->key_file);
		rc = rv_read_file(a->key_file, KEY_FILE_MAX, &text, &len);
		if (rc == RV_ENOTFOUND)
			rc = rv_error(RV_EUSAGE, "key file '%s' does not exist", a->key_file);
		else if (rc)
			rc = rv_error(RV_EUSAGE,
				      "cannot read key file '%s': check it is a small "
				      "readable file",
				      a->key_file);
	}
	if (rc)
		return rc;
	rc = rv_ghost_key_parse(key, text, source);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	return rc;
}

static int open_client(const struct ghost_args *a, bool need_key, struct rv_ghost_client **out)
{
	struct rv_ghost_key key;
	struct rv_ghost_opts o = {0};
	bool have_key = false;
	int rc;

	if (a->key_file || a->key_env || (a->cfg && a->cfg->ghost.admin_key)) {
		rc = load_key(a, &key);
		if (rc) {
			rv_ghost_key_clear(&key);
			return rc;
		}
		have_key = true;
	} else if (need_key) {
		return rv_error(RV_EUSAGE, "an Admin API key is needed: --key-file or --key-env");
	}
	o.url = a->url;
	o.key = have_key ? &key : NULL;
	rc = rv_ghost_client_new(out, &o);
	rv_ghost_key_clear(&key);
	return rc;
}

/* scheme://host[:port]/path compared without a trailing slash and with the
 * scheme and host case-folded, as Ghost itself would serve them. */
static bool same_site_url(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), ha, hb;
	const char *pa, *pb;

	while (la && a[la - 1] == '/')
		la--;
	while (lb && b[lb - 1] == '/')
		lb--;
	if (la != lb)
		return false;
	pa = strstr(a, "://");
	pb = strstr(b, "://");
	if (!pa || !pb)
		return false;
	pa = strchr(pa + 3, '/');
	pb = strchr(pb + 3, '/');
	ha = pa && (size_t)(pa - a) < la ? (size_t)(pa - a) : la;
	hb = pb && (size_t)(pb - b) < lb ? (size_t)(pb - b) : lb;
	return ha == hb && !strncasecmp(a, b, ha) && !memcmp(a + ha, b + hb, la - ha);
}

/* The result of the first failed check is what the command returns; later
 * failures still print their line. */
static void check_fail(int *first, int rc, char *msg, size_t msglen)
{
	if (!*first) {
		*first = rc;
		snprintf(msg, msglen, "%s", rv_errmsg());
	}
}

static int cmd_check(const struct rv_config *cfg, int argc, char **argv)
{
	struct ghost_args a;
	struct rv_ghost_client *c = NULL;
	json_t *site = NULL, *j = NULL;
	char first_msg[1024] = "";
	int first = 0, rc;
	int64_t t0;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	rc = parse_args(argc, argv, false, &a);
	if (!rc)
		rc = open_client(&a, false, &c);
	if (rc)
		return rc;
	t0 = rv_mono_ms();
	rc = rv_ghost_site(c, &site);
	if (rc == RV_ENET) {
		printf("reachable: FAIL\nversion: skipped\nsite url: skipped\nkey: skipped\n");
		check_fail(&first, rc, first_msg, sizeof(first_msg));
		goto out;
	}
	printf("reachable: ok (%s answered in %lld ms)\n", rv_ghost_client_url(c),
	       (long long)(rv_mono_ms() - t0));
	if (rc) {
		printf("version: FAIL (not a Ghost site)\nsite url: skipped\nkey: skipped\n");
		check_fail(&first, rc, first_msg, sizeof(first_msg));
		goto out;
	}
	{
		const char *ver = json_string_value(json_object_get(site, "version"));
		const char *url = json_string_value(json_object_get(site, "url"));
		uint64_t major = 0;
		char majs[16];
		size_t i = 0;

		while (ver[i] && ver[i] != '.' && i + 1 < sizeof(majs)) {
			majs[i] = ver[i];
			i++;
		}
		majs[i] = '\0';
		if (rv_parse_u64(majs, &major) || major < 5) {
			printf("version: FAIL (Ghost %s; revenant speaks Admin API v5, Ghost 5 or "
			       "later)\n",
			       ver);
			rv_error(RV_ENOTSUP,
				 "Ghost %s at %s is too old: revenant needs Ghost 5 or later", ver,
				 rv_ghost_client_url(c));
			check_fail(&first, RV_ENOTSUP, first_msg, sizeof(first_msg));
		} else {
			printf("version: ok (Ghost %s)\n", ver);
		}
		if (url && same_site_url(url, rv_ghost_client_url(c))) {
			printf("site url: ok (%s)\n", url);
		} else {
			printf("site url: FAIL (Ghost is configured as %s)\n", url ? url : "?");
			rv_error(RV_EFAIL,
				 "%s is configured with url %s: give the site URL Ghost is "
				 "configured with, or fix Ghost's url",
				 rv_ghost_client_url(c), url ? url : "(none)");
			check_fail(&first, RV_EFAIL, first_msg, sizeof(first_msg));
		}
	}
	if (!a.key_file && !a.key_env && !(cfg && cfg->ghost.admin_key)) {
		printf("key: skipped (no --key-file, --key-env or ghost.admin_key)\n");
		goto out;
	}
	/* Browsing posts needs a valid staff or integration token, unlike /site/. */
	rc = rv_ghost_call(c, NULL, true, "GET", "posts/?limit=1&fields=id", NULL, NULL, &j);
	if (rc) {
		printf("key: FAIL\n");
		check_fail(&first, rc, first_msg, sizeof(first_msg));
	} else {
		json_t *total = json_object_get(
		    json_object_get(json_object_get(j, "meta"), "pagination"), "total");
		printf("key: ok (accepted; posts on the site: %lld)\n",
		       (long long)json_integer_value(total));
	}
out:
	fflush(stdout);
	json_decref(j);
	json_decref(site);
	rv_ghost_client_free(c);
	if (first)
		return rv_error(first, "%s", first_msg);
	return 0;
}

/* Ask on the terminal; anything but y/yes is a no. */
static bool confirm(size_t n, const char *what, const char *url)
{
	char line[64];

	fprintf(stderr, "delete %zu %s from %s? [y/N] ", n, what, url);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	line[strcspn(line, "\r\n")] = '\0';
	return !strcasecmp(line, "y") || !strcasecmp(line, "yes");
}

static int cmd_purge(const struct rv_config *cfg, int argc, char **argv)
{
	static const char *const posts_only[] = {"posts", NULL};
	static const char *const posts_pages[] = {"posts", "pages", NULL};
	struct ghost_args a;
	struct rv_ghost_client *c = NULL;
	struct rv_ghost_items items = {0};
	struct rv_ghost_purge_stats st = {0};
	struct rv_ghost_purge_opts po = {0};
	json_t *site = NULL;
	const char *what;
	int rc;

	memset(&a, 0, sizeof(a));
	a.cfg = cfg;
	rc = parse_args(argc, argv, true, &a);
	if (!rc)
		rc = open_client(&a, true, &c);
	if (rc)
		return rc;
	what = a.include_pages ? "posts and pages" : "posts";
	po.filter = a.filter;
	po.resources = a.include_pages ? posts_pages : posts_only;
	po.jobs = a.jobs;
	/* Make sure it is Ghost before a token goes anywhere. */
	rc = rv_ghost_site(c, &site);
	json_decref(site);
	for (const char *const *r = po.resources; !rc && *r; r++)
		rc = rv_ghost_collect(c, *r, a.filter, NULL, &items);
	if (rc)
		goto out;
	st.found = items.n;
	if (a.dry_run) {
		for (size_t i = 0; i < items.n; i++)
			printf("%s\t%s\t%s\t%s\t%s\n", items.v[i].resource, items.v[i].id,
			       items.v[i].status, items.v[i].slug, items.v[i].title);
		printf("dry run: %zu %s match on %s; nothing deleted\n", items.n, what,
		       rv_ghost_client_url(c));
		goto out;
	}
	if (items.n && !a.yes) {
		if (!isatty(0)) {
			rc = rv_error(RV_EUSAGE,
				      "refusing to delete %zu %s from %s without confirmation: "
				      "stdin is not a terminal; add --yes",
				      items.n, what, rv_ghost_client_url(c));
			goto out;
		}
		if (!confirm(items.n, what, rv_ghost_client_url(c))) {
			printf("nothing deleted\n");
			goto out;
		}
	}
	if (items.n)
		rc = rv_ghost_purge(c, &po, &items, &st);
	printf("%s on %s: found %zu, deleted %zu, failed %zu", what, rv_ghost_client_url(c),
	       st.found, st.deleted + st.gone, st.failed);
	if (st.gone)
		printf(" (%zu were already gone)", st.gone);
	printf("\n");
	fflush(stdout);
	if (rc == RV_ENET) {
		char prev[1024];

		snprintf(prev, sizeof(prev), "%s", rv_errmsg());
		rc = rv_error(RV_ENET, "purge stopped: %s; run it again once the site is back",
			      prev);
	} else if (!rc && st.failed) {
		rc = rv_error(RV_EFAIL,
			      "%zu of %zu %s could not be deleted from %s (see the errors above); "
			      "run again to retry them",
			      st.failed, st.found, what, rv_ghost_client_url(c));
	}
out:
	rv_ghost_items_release(&items);
	rv_ghost_client_free(c);
	return rc;
}

int rv_cmd_ghost(struct rv_cli *cli, int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? rv_error(RV_EUSAGE, "ghost: give a subcommand (check, "
						      "purge-posts)")
				: 0;
	}
	if (rv_cli_wants_help(argc - 1, argv + 1)) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "check") && strcmp(argv[1], "purge-posts"))
		return rv_error(RV_EUSAGE, "unknown ghost subcommand '%s' (check, purge-posts)",
				argv[1]);
	{
		struct rv_config *cfg = NULL;
		int rc = rv_cli_load_config(cli, false, &cfg);

		if (!rc)
			rc = !strcmp(argv[1], "check") ? cmd_check(cfg, argc - 1, argv + 1)
						       : cmd_purge(cfg, argc - 1, argv + 1);
		rv_config_free(cfg);
		return rc;
	}
}
