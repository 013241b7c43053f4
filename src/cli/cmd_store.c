/* cmd_store.c - `revenant store`: operate on a replica store by hand
 * (ls, put, get, head, rm, caps; put -r / get -r for whole trees). */
#include "cli/cli.h"
#include "store/xfer.h"
#include "core/mem.h"
#include "core/util.h"
#include "content/restore.h"
#include "core/config.h"
#include "store/store.h"
#include "store/versions.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_JOBS 16

static const char store_usage[] =
    "usage: revenant store <command> URL [args]\n"
    "\n"
    "URL is the store: file:///abs/path or s3://bucket/prefix?region=R&endpoint=URL\n"
    "\n"
    "commands:\n"
    "  ls URL [PREFIX] [-l]          list keys (-l: size, mtime, etag, key)\n"
    "  put URL KEY FILE|-            upload a file (- reads stdin)\n"
    "      --if-absent               fail (exit 6) if KEY exists\n"
    "      --if-match ETAG           fail (exit 6) unless KEY has this etag\n"
    "      --content-type T          media type (default application/octet-stream)\n"
    "      -v                        print the new etag\n"
    "  put -r URL PREFIX DIR [-j N]  upload a folder tree under PREFIX\n"
    "  get URL KEY [FILE|-]          download (default: stdout)\n"
    "      --range START-END         bytes START to END inclusive (END may be empty)\n"
    "  get -r URL PREFIX DIR [-j N]  download every key under PREFIX into DIR\n"
    "  head URL KEY                  size, mtime and etag of one key\n"
    "  rm URL KEY...                 delete keys (a missing key is not an error)\n"
    "  caps URL                      what the store can do\n"
    "\n"
    "ls, get and head take --versions [--versions-at TIME]: read the bucket's\n"
    "object versions as restore --versions does (S3 with versioning).\n"
    "\n"
    "-j N: parallel transfers (default 16).  Exit codes: 2 bad usage or URL,\n"
    "4 permission, 5 no such key or folder, 6 conditional put lost.\n";

static int usage_error(const char *what)
{
	return rv_error(RV_EUSAGE, "%s (see revenant store --help)", what);
}

/* Shared option parsing for the subcommands: each accepts the subset it
 * documents and refuses the rest. */
struct sopts {
	bool recursive, long_fmt, verbose, if_absent;
	const char *if_match, *content_type, *range;
	unsigned jobs;
	bool versions;
	int64_t versions_at;
	int npos;
	char **pos;
};

/* Long-only options get letters that are not in the short option string,
 * so that `allowed` can name every option with one character. */
enum {
	OPT_IF_ABSENT = 'A',
	OPT_IF_MATCH = 'M',
	OPT_CONTENT_TYPE = 'T',
	OPT_RANGE = 'R',
	OPT_VERSIONS = 'V',
	OPT_VERSIONS_AT = 'W',
};

static int parse_opts(int argc, char **argv, const char *allowed, struct sopts *o)
{
	static const struct option longopts[] = {
	    {"if-absent", no_argument, NULL, OPT_IF_ABSENT},
	    {"if-match", required_argument, NULL, OPT_IF_MATCH},
	    {"content-type", required_argument, NULL, OPT_CONTENT_TYPE},
	    {"range", required_argument, NULL, OPT_RANGE},
	    {"recursive", no_argument, NULL, 'r'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"long", no_argument, NULL, 'l'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"versions", no_argument, NULL, OPT_VERSIONS},
	    {"versions-at", required_argument, NULL, OPT_VERSIONS_AT},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->jobs = DEFAULT_JOBS;
	o->versions_at = RV_VERSIONS_NEWEST;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "rj:lv", longopts, NULL)) != -1) {
		if (c == '?' || c == ':')
			return rv_error(RV_EUSAGE,
					"unknown option or missing value '%s' for 'store %s' (see "
					"revenant store --help)",
					argv[optind - 1], argv[0]);
		switch (c) {
		case 'r':
			o->recursive = true;
			break;
		case 'j': {
			int rc = rv_cli_parse_jobs(optarg, &o->jobs);
			if (rc)
				return rc;
			break;
		}
		case 'l':
			o->long_fmt = true;
			break;
		case 'v':
			o->verbose = true;
			break;
		case OPT_IF_ABSENT:
			o->if_absent = true;
			break;
		case OPT_IF_MATCH:
			o->if_match = optarg;
			break;
		case OPT_CONTENT_TYPE:
			o->content_type = optarg;
			break;
		case OPT_RANGE:
			o->range = optarg;
			break;
		case OPT_VERSIONS:
			o->versions = true;
			break;
		case OPT_VERSIONS_AT: {
			int rc = rv_restore_parse_time(optarg, &o->versions_at);
			if (rc)
				return rc;
			break;
		}
		}
		if (!strchr(allowed, c))
			return rv_error(RV_EUSAGE, "option '%s' does not apply to 'store %s'",
					argv[optind - 1], argv[0]);
	}
	o->pos = argv + optind;
	o->npos = argc - optind;
	if (o->versions_at != RV_VERSIONS_NEWEST && !o->versions)
		return rv_error(RV_EUSAGE, "--versions-at goes with --versions");
	return 0;
}

/* The store for a read: itself, or its versioned view (--versions). */
static int open_read(struct rv_cli *cli, const struct sopts *o, struct rv_store **out)
{
	struct rv_config *cfg;
	int rc;

	if (!o->versions)
		return rv_cli_open_store(cli, o->pos[0], out);
	*out = NULL;
	if ((rc = rv_cli_load_config(cli, false, &cfg)))
		return rc;
	rc = rv_cli_open_store_versions(cfg, o->pos[0], o->versions_at, out);
	rv_config_free(cfg);
	return rc;
}

static void iso_time(int64_t ms, char out[64])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static int stdout_error(void)
{
	return rv_error_errno(RV_EFAIL, errno, "write to standard output");
}

static int ls_print(const struct rv_obj_info *i, void *ud)
{
	bool long_fmt = *(bool *)ud;
	int n;

	if (long_fmt) {
		char t[64];
		iso_time(i->mtime_ms, t);
		n = printf("%12llu  %s  %s  %s\n", (unsigned long long)i->size, t, i->etag, i->key);
	} else {
		n = printf("%s\n", i->key);
	}
	/* Stop paging as soon as the reader has gone (ls | head). */
	return n < 0 ? stdout_error() : 0;
}

static int cmd_ls(struct rv_cli *cli, struct sopts *o)
{
	struct rv_store *s;
	int rc;

	if (o->npos < 1 || o->npos > 2)
		return usage_error("store ls wants URL [PREFIX]");
	rc = open_read(cli, o, &s);
	if (rc)
		return rc;
	rc = rv_store_list(s, o->npos > 1 ? o->pos[1] : "", ls_print, &o->long_fmt);
	if (!rc && fflush(stdout) == EOF)
		rc = stdout_error();
	rv_store_free(s);
	return rc;
}

static void print_summary(const char *verb, const struct rv_xfer_stats *st)
{
	double mib = (double)st->bytes / (1024.0 * 1024.0);

	printf("%s %llu files, %llu bytes in %.2f s (%.1f MiB/s)%s\n", verb,
	       (unsigned long long)st->files, (unsigned long long)st->bytes, st->seconds,
	       st->seconds > 0 ? mib / st->seconds : 0.0, st->failed ? ", with failures" : "");
	fflush(stdout);
}

/* A conditional put on a server that ignores the condition would silently
 * overwrite: find out first, and refuse rather than pretend. */
static int check_conditional(struct rv_store *s, enum rv_put_cond cond)
{
	const struct rv_store_caps *c;
	int rc = rv_store_probe(s);

	if (rc)
		return rc;
	c = rv_store_caps(s);
	if (cond == RV_PUT_IF_ABSENT && !c->put_if_absent)
		return rv_error(RV_ENOTSUP,
				"%s does not honour conditional puts (If-None-Match): "
				"--if-absent cannot be atomic there",
				rv_store_describe(s));
	if (cond == RV_PUT_IF_MATCH && !c->put_if_match)
		return rv_error(RV_ENOTSUP,
				"%s does not honour conditional puts (If-Match): --if-match "
				"cannot be atomic there",
				rv_store_describe(s));
	return 0;
}

static int cmd_put(struct rv_cli *cli, struct sopts *o)
{
	struct rv_put_opts po = {0};
	struct rv_store *s = NULL;
	struct stat st;
	const char *key, *file;
	int fd = -1, rc;

	if (o->recursive) {
		struct rv_xfer_stats xs;
		if (o->npos != 3)
			return usage_error("store put -r wants URL PREFIX DIR");
		if (o->if_absent || o->if_match || o->content_type)
			return usage_error("store put -r takes no conditions or content type");
		rc = rv_cli_open_store(cli, o->pos[0], &s);
		if (rc)
			return rc;
		rc = rv_xfer_put_tree(s, o->pos[1], o->pos[2], o->jobs, o->verbose, &xs);
		print_summary("put", &xs);
		rv_store_free(s);
		return rc;
	}
	if (o->npos != 3)
		return usage_error("store put wants URL KEY FILE (or - for stdin)");
	if (o->if_absent && o->if_match)
		return usage_error("--if-absent and --if-match exclude each other");
	key = o->pos[1];
	file = o->pos[2];
	rc = rv_store_key_check(key);
	if (rc)
		return rc;
	if (strcmp(file, "-")) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			int err = errno;
			return rv_error(err == ENOENT			? RV_ENOTFOUND
					: err == EACCES || err == EPERM ? RV_EAUTH
									: RV_EFAIL,
					"cannot read local file '%s': %s", file, strerror(err));
		}
		if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
			close(fd);
			return rv_error(RV_EUSAGE, "'%s' is a folder: use store put -r", file);
		}
	}
	po.cond = o->if_absent ? RV_PUT_IF_ABSENT : o->if_match ? RV_PUT_IF_MATCH : RV_PUT_ALWAYS;
	po.if_match = o->if_match;
	po.content_type = o->content_type;
	rc = rv_cli_open_store(cli, o->pos[0], &s);
	if (!rc && po.cond != RV_PUT_ALWAYS)
		rc = check_conditional(s, po.cond);
	if (!rc) {
		rc = rv_store_put_fd(s, key, fd == -1 ? STDIN_FILENO : fd, UINT64_MAX, &po);
		if (!rc && o->verbose)
			printf("put '%s' etag %s\n", key, po.etag_out);
	}
	if (s)
		rv_store_free(s);
	if (fd != -1)
		close(fd);
	return rc;
}

/* "START-END" (inclusive, like HTTP) or "START-". */
static int parse_range(const char *r, uint64_t *off, uint64_t *len)
{
	const char *dash = strchr(r, '-');
	uint64_t a, b;
	char *first;
	int bad;

	if (!dash || dash == r)
		return rv_error(RV_EUSAGE, "--range wants START-END (bytes, inclusive), not '%s'",
				r);
	first = rv_strndup(r, (size_t)(dash - r));
	bad = rv_parse_u64(first, &a);
	free(first);
	if (bad)
		return rv_error(RV_EUSAGE, "--range wants START-END (bytes, inclusive), not '%s'",
				r);
	*off = a;
	*len = 0;
	if (!dash[1])
		return 0;
	if (rv_parse_u64(dash + 1, &b) || b < a)
		return rv_error(RV_EUSAGE,
				"--range wants START-END with END >= START (bytes, inclusive), "
				"not '%s'",
				r);
	*len = b - a + 1;
	return 0;
}

static int cmd_get(struct rv_cli *cli, struct sopts *o)
{
	struct rv_store *s;
	uint64_t off = 0, len = 0;
	int rc;

	if (o->recursive) {
		struct rv_xfer_stats xs;
		if (o->npos != 3)
			return usage_error("store get -r wants URL PREFIX DIR");
		if (o->range)
			return usage_error("store get -r takes no --range");
		rc = open_read(cli, o, &s);
		if (rc)
			return rc;
		rc = rv_xfer_get_tree(s, o->pos[1], o->pos[2], o->jobs, o->verbose, &xs);
		print_summary("got", &xs);
		rv_store_free(s);
		return rc;
	}
	if (o->npos < 2 || o->npos > 3)
		return usage_error("store get wants URL KEY [FILE|-]");
	if (o->range) {
		rc = parse_range(o->range, &off, &len);
		if (rc)
			return rc;
	}
	rc = rv_store_key_check(o->pos[1]);
	if (rc)
		return rc;
	rc = open_read(cli, o, &s);
	if (rc)
		return rc;
	if (o->npos == 3 && strcmp(o->pos[2], "-")) {
		uint64_t n = 0;
		rc = rv_xfer_get_file(s, o->pos[1], o->pos[2], off, len, true, &n);
		if (!rc && o->verbose)
			fprintf(stderr, "got '%s': %llu bytes\n", o->pos[1], (unsigned long long)n);
	} else {
		fflush(stdout);
		rc = rv_store_get_fd(s, o->pos[1], STDOUT_FILENO, off, len, NULL);
	}
	rv_store_free(s);
	return rc;
}

static int cmd_head(struct rv_cli *cli, struct sopts *o)
{
	struct rv_store *s;
	struct rv_obj_info i;
	char t[64];
	int rc;

	if (o->npos != 2)
		return usage_error("store head wants URL KEY");
	rc = open_read(cli, o, &s);
	if (rc)
		return rc;
	rc = rv_store_head(s, o->pos[1], &i);
	if (!rc) {
		iso_time(i.mtime_ms, t);
		printf("key: %s\nsize: %llu\nmtime: %s\netag: %s\n", i.key,
		       (unsigned long long)i.size, t, i.etag);
		rv_obj_info_release(&i);
	}
	rv_store_free(s);
	return rc;
}

static int cmd_rm(struct rv_cli *cli, struct sopts *o)
{
	struct rv_store *s;
	char *first_msg = NULL;
	int rc, first = 0;

	if (o->npos < 2)
		return usage_error("store rm wants URL KEY...");
	rc = rv_cli_open_store(cli, o->pos[0], &s);
	if (rc)
		return rc;
	/* Try every key; report the first failure, having printed them all. */
	for (int i = 1; i < o->npos; i++) {
		rc = rv_store_delete(s, o->pos[i]);
		if (rc) {
			if (!first) {
				first = rc;
				first_msg = rv_strdup(rv_errmsg());
			} else {
				fprintf(stderr, "error: %s\n", rv_errmsg());
			}
		} else if (o->verbose) {
			printf("removed '%s'\n", o->pos[i]);
		}
	}
	rv_store_free(s);
	if (first) {
		rv_error(first, "%s", first_msg);
		free(first_msg);
	}
	return first;
}

static int cmd_caps(struct rv_cli *cli, struct sopts *o)
{
	const struct rv_store_caps *c;
	struct rv_store *s;
	int rc;

	if (o->npos != 1)
		return usage_error("store caps wants URL");
	rc = rv_cli_open_store(cli, o->pos[0], &s);
	if (rc)
		return rc;
	/* S3 servers differ (conditional writes, versioning): ask this one. */
	rc = rv_store_probe(s);
	if (rc) {
		rv_store_free(s);
		return rc;
	}
	c = rv_store_caps(s);
	printf("store: %s\nbackend: %s\nput_if_absent: %s\nput_if_match: %s\n"
	       "versioning: %s\nmultipart: %s\n",
	       rv_store_describe(s), s->ops->name, c->put_if_absent ? "yes" : "no",
	       c->put_if_match ? "yes" : "no", c->versioning ? "yes" : "no",
	       c->multipart ? "yes" : "no");
	rv_store_free(s);
	return 0;
}

static const struct {
	const char *name;
	const char *allowed; /* option letters, long-only ones included */
	int (*run)(struct rv_cli *, struct sopts *);
} subs[] = {
    {"ls", "lVW", cmd_ls},    {"put", "rjvAMT", cmd_put}, {"get", "rjvRVW", cmd_get},
    {"head", "VW", cmd_head}, {"rm", "v", cmd_rm},	  {"caps", "", cmd_caps},
};

int rv_cmd_store(struct rv_cli *cli, int argc, char **argv)
{
	struct sopts o;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		fputs(store_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? usage_error("store wants a command") : 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
		if (strcmp(subs[i].name, argv[1]))
			continue;
		if (rv_cli_wants_help(argc - 1, argv + 1)) {
			fputs(store_usage, stdout);
			return 0;
		}
		rc = parse_opts(argc - 1, argv + 1, subs[i].allowed, &o);
		if (rc)
			return rc;
		return subs[i].run(cli, &o);
	}
	return rv_error(RV_EUSAGE, "unknown store command '%s' (ls, put, get, head, rm, caps)",
			argv[1]);
}
