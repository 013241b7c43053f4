/* cmd_bucket.c - `revenant bucket init URL`: prepare a store once, before
 * the first replication (an S3 bucket with versioning, or a local folder). */
#include "aws/creds.h"
#include "cli/cli.h"
#include "core/config.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char bucket_usage[] =
    "usage: revenant bucket init URL [--region R]\n"
    "                            [--object-lock DAYS [--object-lock-mode MODE]]\n"
    "\n"
    "  s3://bucket[/prefix]?...  create the bucket if missing (in region R, or the\n"
    "                            URL's or the environment's region) and enable\n"
    "                            versioning where the server supports it\n"
    "  file:///abs/path          create the folder (and its parents, mode 0700)\n"
    "\n"
    "  --object-lock DAYS        S3 Object Lock: a new bucket is created with it, and\n"
    "                            every object version written is kept DAYS days (1 to\n"
    "                            36500) whatever deletes it (a delete only hides it);\n"
    "                            it can never be turned off again.  An existing\n"
    "                            bucket is asked to turn it on (AWS does for a\n"
    "                            versioned bucket); a server that refuses says so\n"
    "  --object-lock-mode MODE   governance (default: s3:BypassGovernanceRetention\n"
    "                            may still delete) or compliance (nobody can, not\n"
    "                            even the account's root user, until DAYS pass)\n"
    "\n"
    "Running it again is harmless: it says what already exists.\n";

/* mkdir -p; `*created` says whether the last component was made here. */
static int mkdir_p(const char *path, bool *created)
{
	char *p = rv_strdup(path);
	int rc = 0;

	*created = false;
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, 0700) == 0) {
			*created = !c;
		} else if (errno != EEXIST) {
			int err = errno;
			rc = rv_error(err == EACCES || err == EPERM || err == EROFS ? RV_EAUTH
										    : RV_EFAIL,
				      "cannot create store folder '%s': %s", p, strerror(err));
			break;
		} else {
			struct stat st;
			if (stat(p, &st) == -1 || !S_ISDIR(st.st_mode)) {
				rc = rv_error(RV_EUSAGE, "'%s' exists and is not a folder", p);
				break;
			}
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

static int init_file(const struct rv_store_url *u)
{
	bool created;
	int rc = mkdir_p(u->path, &created);

	if (rc)
		return rc;
	if (created)
		printf("created store folder '%s' (mode 0700)\n", u->path);
	else
		printf("store folder '%s' already exists\n", u->path);
	return 0;
}

static int init_s3(struct rv_cli *cli, const struct rv_store_url *u, const char *region,
		   const struct rv_object_lock *lock)
{
	struct rv_bucket_init_result res = {0};
	struct rv_store_opts opts;
	struct rv_creds_config cc;
	struct rv_config *cfg;
	const char *where;
	int rc;

	rc = rv_cli_load_config(cli, false, &cfg);
	if (rc)
		return rc;
	rv_cli_store_opts(cfg, &opts, &cc);
	if (region) {
		opts.region = region;
		cc.region = region;
	}
	rc = rv_s3_bucket_init_lock(u, &opts, lock, &res);
	where = opts.region ? opts.region : u->region;
	if (rc) {
		rv_config_free(cfg);
		return rc;
	}
	if (res.created)
		printf("created bucket '%s'%s%s\n", u->bucket, where ? " in " : "",
		       where ? where : "");
	else
		printf("bucket '%s' already exists\n", u->bucket);
	if (res.versioning_enabled)
		printf("versioning enabled\n");
	else
		printf("versioning not supported by this server: %s\n",
		       res.versioning_note ? res.versioning_note : "no reason given");
	if (lock->days)
		printf("object lock: %s mode, every version kept %u days\n",
		       lock->compliance ? "compliance" : "governance", lock->days);
	rv_config_free(cfg);
	return 0;
}

int rv_cmd_bucket(struct rv_cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"region", required_argument, NULL, 'R'},
	    {"object-lock", required_argument, NULL, 'L'},
	    {"object-lock-mode", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_store_url u;
	struct rv_object_lock lock = {0};
	const char *region = NULL, *mode = NULL;
	int c, rc;

	if (argc < 2 || strcmp(argv[1], "init")) {
		if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			fputs(bucket_usage, stdout);
			return 0;
		}
		fputs(bucket_usage, stderr);
		return rv_error(RV_EUSAGE, "bucket wants the command 'init'");
	}
	argc--;
	argv++;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'R':
			if (!*optarg)
				return rv_error(RV_EUSAGE, "--region wants a region name");
			region = optarg;
			break;
		case 'L': {
			uint64_t d;
			if (rv_parse_u64(optarg, &d) || d < 1 || d > 36500)
				return rv_error(RV_EUSAGE,
						"--object-lock wants a number of days from 1 to "
						"36500, not '%s'",
						optarg);
			lock.days = (unsigned)d;
			break;
		}
		case 'M':
			if (strcmp(optarg, "governance") && strcmp(optarg, "compliance"))
				return rv_error(RV_EUSAGE,
						"--object-lock-mode is governance or compliance, "
						"not '%s'",
						optarg);
			mode = optarg;
			lock.compliance = !strcmp(optarg, "compliance");
			break;
		case 'h':
			fputs(bucket_usage, stdout);
			return 0;
		default:
			return rv_error(RV_EUSAGE,
					"unknown option '%s' (see revenant bucket --help)",
					argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return rv_error(RV_EUSAGE,
				"bucket init wants one URL (see revenant bucket --help)");
	if (mode && !lock.days)
		return rv_error(RV_EUSAGE, "--object-lock-mode goes with --object-lock DAYS");
	rc = rv_store_url_parse(&u, argv[optind]);
	if (rc)
		return rc;
	if (u.kind == RV_STORE_FILE) {
		if (region || lock.days)
			rc = rv_error(RV_EUSAGE,
				      "--region and --object-lock apply to s3:// URLs only");
		else
			rc = init_file(&u);
	} else {
		rc = init_s3(cli, &u, region, &lock);
	}
	rv_store_url_release(&u);
	return rc;
}
