/* cmd_status.c - `revenant status [--json] [--manifest] [URL]`: what the
 * store holds: the lease, the generations, the latest commit, and the files
 * and bytes of the latest recorded state. */
#include "cli/cli.h"
#include "content/format.h"
#include "engine/replicate_state.h"
#include "engine/status.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"
#include "engine/lease.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Generations listed in text mode (all of them in JSON). */
#define TEXT_GENS 10

static void usage(FILE *f)
{
	fprintf(f, "usage: revenant [-c FILE] status [--json] [URL]\n"
		   "       revenant [-c FILE] status --manifest [URL]\n"
		   "\n"
		   "What the store (URL, else store.url) holds: the lease (site, epoch, holder,\n"
		   "since), the generations (newest last), the latest content commit (sequence\n"
		   "and time) and the files and bytes of the latest recorded state.  A gap in\n"
		   "the content log (a commit missing while later ones are present: the latest\n"
		   "point cannot be restored) is reported on its own line and exits 7.\n"
		   "\n"
		   "  --json       one JSON object instead of text\n"
		   "  --manifest   print the latest recorded state of the content folder, one\n"
		   "               record per line as in docs/FORMAT.md (file PATH SIZE MODE\n"
		   "               MTIME_NS SHA256 / dir PATH MODE MTIME_NS / link PATH MTIME_NS\n"
		   "               TARGET; paths %%-escaped), for scripts and tests\n"
		   "\n"
		   "exit codes: 0 ok (also for an empty store), 2 bad usage, 3 unreachable,\n"
		   "4 permission, 7 a damaged object or a gap in the content log (everything\n"
		   "else is still printed).\n");
}

static void iso(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];

	if (!ms || !gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm)) {
		snprintf(out, 32, "-");
		return;
	}
	snprintf(out, 32, "%s.%03dZ", base, (int)(ms % 1000));
}

struct counts {
	uint64_t files, dirs, links, bytes;
	FILE *print; /* --manifest */
	struct rv_buf esc, esc2;
};

static int count_entry(void *ud, const struct rv_centry *e)
{
	struct counts *c = ud;
	char hex[RV_SHA256_HEX];
	int rc;

	switch (e->type) {
	case RV_CE_FILE:
		c->files++;
		c->bytes += e->size;
		break;
	case RV_CE_DIR:
		c->dirs++;
		break;
	case RV_CE_LINK:
		c->links++;
		break;
	default:
		break;
	}
	if (!c->print)
		return 0;
	rv_buf_reset(&c->esc);
	if ((rc = rv_content_escape(&c->esc, e->path)))
		return rc;
	switch (e->type) {
	case RV_CE_FILE:
		rv_hex(hex, e->sha256, RV_SHA256_LEN);
		fprintf(c->print, "file %s %" PRIu64 " %04o %" PRId64 " %s\n", rv_buf_str(&c->esc),
			e->size, (unsigned)e->mode, e->mtime_ns, hex);
		break;
	case RV_CE_DIR:
		fprintf(c->print, "dir %s %04o %" PRId64 "\n", rv_buf_str(&c->esc),
			(unsigned)e->mode, e->mtime_ns);
		break;
	case RV_CE_LINK:
		rv_buf_reset(&c->esc2);
		if ((rc = rv_content_escape(&c->esc2, e->target)))
			return rc;
		fprintf(c->print, "link %s %" PRId64 " %s\n", rv_buf_str(&c->esc), e->mtime_ns,
			rv_buf_str(&c->esc2));
		break;
	default:
		break;
	}
	return 0;
}

static json_t *jstr_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int rv_cmd_status(struct rv_cli *cli, int argc, char **argv)
{
	enum { OPT_MANIFEST = 'M' };
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"manifest", no_argument, NULL, OPT_MANIFEST},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_store *st = NULL;
	struct rv_lease lease = {0};
	struct rv_status_gens g = {0};
	struct rv_restore_gap gap = {0};
	char gapline[160] = "";
	struct rv_cstate cs;
	struct counts cnt = {0};
	bool json = false, manifest = false, have_lease = false;
	json_t *root = NULL, *jg = NULL;
	char t1[32], t2[32];
	int c, rc;

	rv_cstate_init(&cs);
	rv_buf_init(&cnt.esc, 3 * RV_CPATH_MAX + 1);
	rv_buf_init(&cnt.esc2, 3 * RV_CPATH_MAX + 1);
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case OPT_MANIFEST:
			manifest = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return rv_error(RV_EUSAGE, "unknown option (see revenant status --help)");
		}
	}
	if (argc - optind > 1)
		return rv_error(RV_EUSAGE, "status takes at most one URL (see revenant status "
					   "--help)");
	if ((rc = rv_cli_open_store(cli, optind < argc ? argv[optind] : NULL, &st)))
		goto out;
	rc = rv_lease_read(st, &lease);
	if (rc && rc != RV_ENOTFOUND)
		goto out;
	have_lease = !rc;
	if ((rc = rv_status_list_generations(st, &g)))
		goto out;
	if (have_lease && (rc = rv_cstate_load(st, lease.gen, 64, &cs)))
		goto out;
	if (have_lease && !manifest && (rc = rv_status_content_gap(st, lease.gen, &gap)))
		goto out;
	if (gap.missing)
		rv_restore_gap_describe(gapline, sizeof(gapline), &gap);
	if (have_lease) {
		cnt.print = manifest ? stdout : NULL;
		if ((rc = rv_cstate_merge(cs.base_fd, "the latest manifest", &cs.changes,
					  count_entry, &cnt)))
			goto out;
	}
	if (manifest) {
		if (fflush(stdout) == EOF)
			rc = rv_error(RV_EFAIL, "cannot write to standard output");
		goto out;
	}

	if (json) {
		root = json_object();
		if (have_lease) {
			iso(t1, lease.since_ms);
			json_object_set_new(root, "lease",
					    json_pack("{s:s, s:I, s:s, s:s, s:s, s:I}", "site",
						      lease.site, "epoch", (json_int_t)lease.epoch,
						      "holder", lease.holder, "generation",
						      lease.gen, "since", t1, "since_ms",
						      (json_int_t)lease.since_ms));
		} else {
			json_object_set_new(root, "lease", json_null());
		}
		jg = json_array();
	} else if (have_lease) {
		iso(t1, lease.since_ms);
		printf("lease:      site %s, epoch %" PRIu64 ", holder %s, since %s\n", lease.site,
		       lease.epoch, lease.holder, t1);
		printf("generation: %s\n", lease.gen);
	} else {
		printf("lease:      none (nothing has been replicated to this store yet)\n");
	}
	if (!json)
		printf("generations: %zu%s\n", g.n, g.n > TEXT_GENS ? " (the newest shown)" : "");
	for (size_t i = 0; i < g.n; i++) {
		struct rv_gen_meta meta;

		if (!json && i + TEXT_GENS < g.n)
			continue;
		rc = rv_gen_meta_read(st, g.ids[i], &meta);
		if (rc == RV_ENOTFOUND) {
			/* A start that stopped before writing meta.json. */
			rv_error_clear();
			rc = 0;
			if (json)
				json_array_append_new(jg,
						      json_pack("{s:s, s:n, s:n, s:n, s:n, s:n}",
								"id", g.ids[i], "site", "epoch",
								"created", "created_ms", "parent"));
			else
				printf("  %s  (no meta.json: its start was interrupted)\n",
				       g.ids[i]);
			continue;
		}
		if (rc)
			goto out;
		iso(t1, meta.created_ms);
		if (json)
			json_array_append_new(
			    jg, json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "id", meta.gen, "site",
					  meta.site, "epoch", (json_int_t)meta.epoch, "created", t1,
					  "created_ms", (json_int_t)meta.created_ms, "parent",
					  jstr_or_null(meta.parent)));
		else
			printf("  %s  site %-12s epoch %-4" PRIu64 " created %s\n", meta.gen,
			       meta.site, meta.epoch, t1);
		rv_gen_meta_release(&meta);
	}
	iso(t1, cs.seq_ms);
	iso(t2, cs.manifest_ms);
	if (json) {
		json_object_set_new(root, "generations", jg);
		jg = NULL;
		if (have_lease) {
			json_object_set_new(
			    root, "content",
			    json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I}",
				      "generation", cs.gen[0] ? cs.gen : lease.gen, "seq",
				      (json_int_t)cs.seq, "time", t1, "time_ms",
				      (json_int_t)cs.seq_ms, "manifest_seq",
				      (json_int_t)cs.manifest_seq, "manifest_time", t2,
				      "logs_after_manifest", (json_int_t)cs.logs, "files",
				      (json_int_t)cnt.files, "dirs", (json_int_t)cnt.dirs, "links",
				      (json_int_t)cnt.links, "bytes", (json_int_t)cnt.bytes));
			json_object_set_new(
			    json_object_get(root, "content"), "gap",
			    gap.missing
				? json_pack("{s:s, s:I, s:I, s:s}", "generation", gap.gen,
					    "missing_seq", (json_int_t)gap.missing, "next_seq",
					    (json_int_t)gap.next, "message", gapline)
				: json_null());
		} else
			json_object_set_new(root, "content", json_null());
		if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) || puts("") == EOF)
			rc = rv_error(RV_EFAIL, "cannot write to standard output");
	} else if (have_lease) {
		printf("content:    commit %" PRIu64 " at %s (manifest %" PRIu64 " at %s, %" PRIu64
		       " logs after it)\n",
		       cs.seq, t1, cs.manifest_seq, t2, cs.logs);
		printf("            %" PRIu64 " files, %" PRIu64 " bytes, %" PRIu64
		       " folders, %" PRIu64 " links\n",
		       cnt.files, cnt.bytes, cnt.dirs, cnt.links);
		if (gap.missing)
			printf("gap:        %s — the latest point cannot be restored; the "
			       "newest before it can (restore --before-gap)\n",
			       gapline);
	}
	/* Everything is printed; a gap is damage, so the exit says so. */
	if (!rc && gap.missing)
		rc = rv_restore_gap_error(&gap);
out:
	json_decref(jg);
	json_decref(root);
	rv_status_gens_release(&g);
	rv_buf_release(&cnt.esc);
	rv_buf_release(&cnt.esc2);
	rv_cstate_release(&cs);
	if (have_lease)
		rv_lease_release(&lease);
	rv_store_free(st);
	return rc;
}
