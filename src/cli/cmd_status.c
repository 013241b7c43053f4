/* cmd_status.c - `revenant status [--json] [--manifest] [URL]`: what the
 * store holds: the lease, the generations, the latest commit, and the files
 * and bytes of the latest recorded state. */
#include "cli/cli.h"
#include "format/content.h"
#include "engine/replicate_state.h"
#include "engine/status.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"
#include "engine/lease.h"
#include "core/config.h"
#include "dns/dns.h"

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
	fprintf(
	    f,
	    "usage: revenant [-c FILE] status [--json] [--no-dns] [URL]\n"
	    "       revenant [-c FILE] status --manifest [URL]\n"
	    "\n"
	    "What the store (URL, else store.url) holds: the lease (site, epoch, holder,\n"
	    "since), the primary's heartbeat (its age; one from an older epoch is a\n"
	    "fenced writer's), the generations (newest last), the latest content commit\n"
	    "(sequence and time) and the files and bytes of the latest recorded state.  A gap in\n"
	    "the content log (a commit missing while later ones are present: the latest\n"
	    "point cannot be restored) is reported on its own line and exits 7.\n"
	    "\n"
	    "  --json       one JSON object instead of text\n"
	    "  --no-dns     do not ask where the dns: names point (by default status\n"
	    "               asks the provider, when the config has a dns: section\n"
	    "               and no URL is given, and says when they do not point at\n"
	    "               the lease holder)\n"
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

/* status --manifest: one record per line, as docs/FORMAT.md writes them. */
struct printer {
	struct rv_buf esc, esc2;
};

static int print_entry(void *ud, const struct rv_centry *e)
{
	struct printer *p = ud;
	char hex[RV_SHA256_HEX];
	int rc;

	rv_buf_reset(&p->esc);
	if ((rc = rv_content_escape(&p->esc, e->path)))
		return rc;
	switch (e->type) {
	case RV_CE_FILE:
		rv_hex(hex, e->sha256, RV_SHA256_LEN);
		printf("file %s %" PRIu64 " %04o %" PRId64 " %s\n", rv_buf_str(&p->esc), e->size,
		       (unsigned)e->mode, e->mtime_ns, hex);
		break;
	case RV_CE_DIR:
		printf("dir %s %04o %" PRId64 "\n", rv_buf_str(&p->esc), (unsigned)e->mode,
		       e->mtime_ns);
		break;
	case RV_CE_LINK:
		rv_buf_reset(&p->esc2);
		if ((rc = rv_content_escape(&p->esc2, e->target)))
			return rc;
		printf("link %s %" PRId64 " %s\n", rv_buf_str(&p->esc), e->mtime_ns,
		       rv_buf_str(&p->esc2));
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

/* A heartbeat from an older epoch than the lease's is a fenced writer's. */
static bool hb_current(const struct rv_status *S)
{
	return S->have_heartbeat && S->have_lease && S->heartbeat.epoch == S->lease.epoch;
}

static void print_heartbeat(const struct rv_status *S)
{
	const struct rv_heartbeat *h = &S->heartbeat;
	double age;
	char t[32];

	if (!S->have_heartbeat) {
		printf(
		    "heartbeat:  none (the primary predates heartbeats, or has not written one)\n");
		return;
	}
	age = (double)(rv_now_ms() - h->time_ms) / 1000.0;
	iso(t, h->time_ms);
	printf("heartbeat:  site %s, epoch %" PRIu64 ", %.1f s ago (%s), last commit %" PRIu64
	       "%s\n",
	       h->site, h->epoch, age, t, h->seq,
	       hb_current(S) ? "" : " — from an older lease: a fenced writer's, ignored");
}

/* How far a standby is behind the primary's last commit (0: at it). */
static double standby_behind(const struct rv_status *S, const struct rv_standby_status *st)
{
	return S->have_heartbeat ? (double)rv_standby_behind_ms(&S->heartbeat, st) / 1000.0 : 0.0;
}

static void print_standbys(const struct rv_status *S)
{
	for (size_t i = 0; i < S->nstandby; i++) {
		const struct rv_standby_status *st = &S->standby[i];
		bool following = S->have_lease && !strcmp(st->gen, S->lease.gen) &&
				 strcmp(st->site, S->lease.site);

		/* The primary's own report from before its promotion. */
		if (S->have_lease && !strcmp(st->site, S->lease.site))
			continue;
		printf("standby:    site %s, seq %" PRIu64 ", %.1f s behind the primary, reported "
		       "%.1f s ago%s\n",
		       st->site, st->seq, standby_behind(S, st),
		       (double)(rv_now_ms() - st->time_ms) / 1000.0,
		       following ? "" : " — not following the lease's generation (an old report)");
	}
	if (S->have_lease && S->lease.switchover_to)
		printf("switchover: asked for, to site %s (the primary acts at its next lease "
		       "check)\n",
		       S->lease.switchover_to);
	if (S->have_lease && S->lease.handover_from)
		printf("handover:   from site %s at seq %" PRIu64 "\n", S->lease.handover_from,
		       S->lease.handover_seq);
}

static json_t *standbys_json(const struct rv_status *S)
{
	json_t *a = json_array();

	for (size_t i = 0; i < S->nstandby; i++) {
		const struct rv_standby_status *st = &S->standby[i];

		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f}", "site", st->site,
				 "generation", st->gen, "seq", (json_int_t)st->seq, "commit_ms",
				 (json_int_t)st->commit_ms, "time_ms", (json_int_t)st->time_ms,
				 "age_seconds", (double)(rv_now_ms() - st->time_ms) / 1000.0,
				 "behind_seconds", standby_behind(S, st)));
	}
	return a;
}

static json_t *heartbeat_json(const struct rv_status *S)
{
	const struct rv_heartbeat *h = &S->heartbeat;
	char t[32];

	if (!S->have_heartbeat)
		return json_null();
	iso(t, h->time_ms);
	return json_pack("{s:s, s:I, s:s, s:s, s:s, s:I, s:f, s:I, s:I, s:o, s:b}", "site", h->site,
			 "epoch", (json_int_t)h->epoch, "generation", h->gen, "holder", h->holder,
			 "time", t, "time_ms", (json_int_t)h->time_ms, "age_seconds",
			 (double)(rv_now_ms() - h->time_ms) / 1000.0, "seq", (json_int_t)h->seq,
			 "commit_ms", (json_int_t)h->commit_ms, "db_pos",
			 h->has_db ? json_integer((json_int_t)h->db_pos) : json_null(), "current",
			 hb_current(S));
}

static json_t *gen_json(const struct rv_status_gen *g)
{
	char t[32];

	if (!g->has_meta)
		return json_pack("{s:s, s:n, s:n, s:n, s:n, s:n}", "id", g->id, "site", "epoch",
				 "created", "created_ms", "parent");
	iso(t, g->meta.created_ms);
	return json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "id", g->meta.gen, "site", g->meta.site,
			 "epoch", (json_int_t)g->meta.epoch, "created", t, "created_ms",
			 (json_int_t)g->meta.created_ms, "parent", jstr_or_null(g->meta.parent));
}

/* Where the public names point now, against the lease. */
static void print_dns(const struct rv_status *S)
{
	for (size_t i = 0; i < S->ndns; i++) {
		const struct rv_dns_report *r = &S->dns[i];
		char v[512];

		if (r->rc)
			continue;
		rv_dns_values_str(&r->answer.values, v, sizeof(v));
		printf("dns:        %s %s %s -> %s\n", r->rec.name, rv_dns_type_name(r->rec.type),
		       v, r->site[0] ? r->site : "no site's target");
	}
	if (S->dns_rc)
		printf("dns:        cannot read: %s\n", S->dns_err);
	if (S->dns_off_lease)
		printf("dns:        does not point at the lease holder (%s) — if the promotion is "
		       "done, run `revenant dns switch --to %s`\n",
		       S->have_lease ? S->lease.site : "none",
		       S->have_lease ? S->lease.site : "SITE");
}

static json_t *dns_json(const struct rv_status *S)
{
	json_t *a = json_array();

	for (size_t i = 0; i < S->ndns; i++) {
		const struct rv_dns_report *r = &S->dns[i];
		char v[512];

		if (r->rc)
			continue;
		rv_dns_values_str(&r->answer.values, v, sizeof(v));
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s?}", "name", r->rec.name,
						   "type", rv_dns_type_name(r->rec.type), "values",
						   v, "site", r->site[0] ? r->site : NULL));
	}
	return json_pack("{s:o, s:b, s:s?}", "names", a, "off_lease", S->dns_off_lease, "error",
			 S->dns_rc ? S->dns_err : NULL);
}

static int print_json(const struct rv_status *S, const char *gapline)
{
	json_t *root = json_object(), *jg = json_array(), *content = json_null();
	char t1[32], t2[32];
	int rc = 0;

	if (S->have_lease) {
		iso(t1, S->lease.since_ms);
		json_object_set_new(root, "lease",
				    json_pack("{s:s, s:I, s:s, s:s, s:s, s:I}", "site",
					      S->lease.site, "epoch", (json_int_t)S->lease.epoch,
					      "holder", S->lease.holder, "generation", S->lease.gen,
					      "since", t1, "since_ms",
					      (json_int_t)S->lease.since_ms));
	} else {
		json_object_set_new(root, "lease", json_null());
	}
	json_object_set_new(root, "heartbeat", heartbeat_json(S));
	json_object_set_new(root, "standbys", standbys_json(S));
	if (S->ndns || S->dns_rc)
		json_object_set_new(root, "dns", dns_json(S));
	for (size_t i = 0; i < S->gens.n; i++)
		if (S->gen[i].meta_read)
			json_array_append_new(jg, gen_json(&S->gen[i]));
	json_object_set_new(root, "generations", jg);
	if (S->have_lease) {
		iso(t1, S->content.seq_ms);
		iso(t2, S->content.manifest_ms);
		content = json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I}",
				    "generation", S->content.gen[0] ? S->content.gen : S->lease.gen,
				    "seq", (json_int_t)S->content.seq, "time", t1, "time_ms",
				    (json_int_t)S->content.seq_ms, "manifest_seq",
				    (json_int_t)S->content.manifest_seq, "manifest_time", t2,
				    "logs_after_manifest", (json_int_t)S->content.logs, "files",
				    (json_int_t)S->files, "dirs", (json_int_t)S->dirs, "links",
				    (json_int_t)S->links, "bytes", (json_int_t)S->bytes);
		json_object_set_new(content, "gap",
				    S->gap.missing
					? json_pack("{s:s, s:I, s:I, s:s}", "generation",
						    S->gap.gen, "missing_seq",
						    (json_int_t)S->gap.missing, "next_seq",
						    (json_int_t)S->gap.next, "message", gapline)
					: json_null());
	}
	json_object_set_new(root, "content", content);
	if (json_dumpf(root, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) || puts("") == EOF)
		rc = rv_error(RV_EFAIL, "cannot write to standard output");
	json_decref(root);
	return rc;
}

static void print_text(const struct rv_status *S, const char *gapline)
{
	char t1[32], t2[32];

	if (S->have_lease) {
		iso(t1, S->lease.since_ms);
		printf("lease:      site %s, epoch %" PRIu64 ", holder %s, since %s\n",
		       S->lease.site, S->lease.epoch, S->lease.holder, t1);
		printf("generation: %s\n", S->lease.gen);
		print_heartbeat(S);
		print_standbys(S);
	} else {
		printf("lease:      none (nothing has been replicated to this store yet)\n");
	}
	printf("generations: %zu%s\n", S->gens.n,
	       S->gens.n > TEXT_GENS ? " (the newest shown)" : "");
	for (size_t i = 0; i < S->gens.n; i++) {
		const struct rv_status_gen *g = &S->gen[i];

		if (!g->meta_read)
			continue;
		if (!g->has_meta) {
			printf("  %s  (no meta.json: its start was interrupted)\n", g->id);
			continue;
		}
		iso(t1, g->meta.created_ms);
		printf("  %s  site %-12s epoch %-4" PRIu64 " created %s\n", g->meta.gen,
		       g->meta.site, g->meta.epoch, t1);
	}
	if (!S->have_lease)
		return;
	iso(t1, S->content.seq_ms);
	iso(t2, S->content.manifest_ms);
	printf("content:    commit %" PRIu64 " at %s (manifest %" PRIu64 " at %s, %" PRIu64
	       " logs after it)\n",
	       S->content.seq, t1, S->content.manifest_seq, t2, S->content.logs);
	printf("            %" PRIu64 " files, %" PRIu64 " bytes, %" PRIu64 " folders, %" PRIu64
	       " links\n",
	       S->files, S->bytes, S->dirs, S->links);
	if (S->gap.missing)
		printf("gap:        %s — the latest point cannot be restored; the newest before it "
		       "can (restore --before-gap)\n",
		       gapline);
	print_dns(S);
}

int rv_cmd_status(struct rv_cli *cli, int argc, char **argv)
{
	enum { OPT_MANIFEST = 'M', OPT_NO_DNS = 1000 };
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"manifest", no_argument, NULL, OPT_MANIFEST},
	    {"no-dns", no_argument, NULL, OPT_NO_DNS},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct rv_store *st = NULL;
	struct rv_status S;
	struct printer pr;
	char gapline[160] = "";
	struct rv_config *cfg = NULL;
	bool json = false, manifest = false, dns = true;
	int c, rc;

	memset(&S, 0, sizeof(S));
	rv_cstate_init(&S.content);
	rv_buf_init(&pr.esc, 3 * RV_CPATH_MAX + 1);
	rv_buf_init(&pr.esc2, 3 * RV_CPATH_MAX + 1);
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case OPT_MANIFEST:
			manifest = true;
			break;
		case OPT_NO_DNS:
			dns = false;
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
	rc = rv_status_collect(st, json ? SIZE_MAX : TEXT_GENS, manifest ? print_entry : NULL, &pr,
			       &S);
	if (rc)
		goto out;
	if (S.gap.missing)
		rv_restore_gap_describe(gapline, sizeof(gapline), &S.gap);
	/* The public names, when this store is the config's and it has a
	 * dns: section (live queries; --no-dns skips them). */
	if (!manifest && dns && optind == argc && !rv_cli_load_config(cli, false, &cfg))
		rv_status_dns(cfg, &S);
	rv_error_clear();
	if (manifest) {
		if (fflush(stdout) == EOF)
			rc = rv_error(RV_EFAIL, "cannot write to standard output");
		goto out;
	}

	if (json)
		rc = print_json(&S, gapline);
	else
		print_text(&S, gapline);
	/* Everything is printed; a gap is damage, so the exit says so. */
	if (!rc && S.gap.missing)
		rc = rv_restore_gap_error(&S.gap);
out:
	rv_status_release(&S);
	rv_config_free(cfg);
	rv_buf_release(&pr.esc);
	rv_buf_release(&pr.esc2);
	rv_store_free(st);
	return rc;
}
