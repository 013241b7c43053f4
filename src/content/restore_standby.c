/* restore_standby.c - `revenant standby`, content half: keep a folder equal
 * to the store's latest point (see restore.h).
 *
 * Each poll reads lease.json (one GET) and lists the log objects after the
 * last one applied (one LIST per 256).  A new generation in the lease, or
 * a log that cannot be found in sequence, means a full restore with
 * delete, which skips every file that is already right. */
#include "content/restore.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"
#include "store/store.h"
#include "switch/lease.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A failure that repeats is logged again only after this long. */
#define REPEAT_LOG_MS 30000

struct standby {
	struct rv_store *s;
	struct rv_apply *a;
	const struct rv_standby_opts *o;
	struct rv_restore_opts ro;
	bool have; /* a point has been restored */
	char gen[RV_GEN_ID_LEN];
	uint64_t seq;
	int64_t commit_ms;  /* of the last commit applied */
	int64_t current_ms; /* the folder is known to match the store as of this time */
	char *last_err;
	int64_t last_err_ms;
};

static bool stop_now(void *ud)
{
	const struct rv_standby_opts *o = ud;

	return o->wait && o->wait(o->wait_ud, 0);
}

static void report_error(struct standby *sb, const char *what)
{
	const char *msg = rv_errmsg();
	int64_t now = rv_mono_ms();

	/* The same failure every second would drown the log. */
	if (sb->last_err && !strcmp(sb->last_err, msg) && now - sb->last_err_ms < REPEAT_LOG_MS)
		return;
	free(sb->last_err);
	sb->last_err = rv_strdup(msg);
	sb->last_err_ms = now;
	rv_log(RV_LOG_ERROR, what, "error", msg, "hint", "retrying at every poll", NULL);
}

static int sync_folder(struct standby *sb)
{
	int fd = open(rv_apply_root(sb->a), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd == -1 || syncfs(fd) == -1)
		rc = rv_error_errno(RV_EFAIL, errno, "sync folder '%s'", rv_apply_root(sb->a));
	if (fd != -1)
		close(fd);
	return rc;
}

static int full_restore(struct standby *sb)
{
	struct rv_restore_point p;
	struct rv_restore_stats st;
	int64_t started = rv_now_ms();
	char when[32], n1[24], n2[24], n3[24], n4[24];
	int rc;

	if ((rc = rv_restore_find(sb->s, NULL, RV_RESTORE_LATEST, &p)))
		return rc;
	rc = rv_restore_apply_point(sb->s, sb->a, &p, &sb->ro, &st);
	if (!rc) {
		memcpy(sb->gen, p.gen, RV_GEN_ID_LEN);
		sb->seq = p.seq;
		sb->commit_ms = p.time_ms;
		sb->current_ms = started;
		sb->have = true;
		rv_restore_format_time(when, p.time_ms);
		snprintf(n1, sizeof(n1), "%" PRIu64, st.files);
		snprintf(n2, sizeof(n2), "%" PRIu64, st.downloaded);
		snprintf(n3, sizeof(n3), "%" PRIu64, st.removed);
		snprintf(n4, sizeof(n4), "%" PRIu64, p.seq);
		rv_log(RV_LOG_INFO, "standby restored the latest point", "generation", p.gen, "seq",
		       n4, "commit", when, "files", n1, "downloaded", n2, "removed", n3, NULL);
	}
	rv_restore_point_release(&p);
	return rc;
}

/* Apply the logs committed since the last poll. */
static int follow(struct standby *sb)
{
	struct rv_restore_obj *logs = NULL;
	struct rv_lease lease;
	size_t nlogs = 0, i;
	int64_t started = rv_now_ms();
	int rc;

	if ((rc = rv_lease_read(sb->s, &lease)))
		return rc;
	if (strcmp(lease.gen, sb->gen)) {
		rv_log(RV_LOG_INFO, "the lease names a new generation: restoring it", "from",
		       sb->gen, "to", lease.gen, "site", lease.site, NULL);
		rv_lease_release(&lease);
		return full_restore(sb);
	}
	rv_lease_release(&lease);
	if ((rc = rv_restore_list_logs(sb->s, sb->gen, sb->seq + 1, RV_RESTORE_LATEST, &logs,
				       &nlogs)))
		return rc;
	for (i = 0; i < nlogs && !rc; i++) {
		uint64_t files, bytes;
		char n1[24], n2[24], n3[24];

		if (stop_now((void *)sb->o))
			break;
		rc = rv_restore_apply_log(sb->s, sb->a, &logs[i], &sb->ro, &files, &bytes);
		if (rc)
			break;
		sb->seq = logs[i].seq;
		sb->commit_ms = logs[i].time_ms;
		snprintf(n1, sizeof(n1), "%" PRIu64, logs[i].seq);
		snprintf(n2, sizeof(n2), "%" PRIu64, files);
		snprintf(n3, sizeof(n3), "%" PRIu64, bytes);
		rv_log(RV_LOG_DEBUG, "standby applied a log", "seq", n1, "files", n2, "bytes", n3,
		       NULL);
	}
	if (i && !rc)
		rc = sync_folder(sb);
	if (!rc && i == nlogs)
		sb->current_ms = started;
	else if (i < nlogs && logs[i].time_ms < sb->current_ms)
		sb->current_ms = logs[i].time_ms; /* behind since that commit */
	for (size_t k = 0; k < nlogs; k++)
		free(logs[k].key);
	free(logs);
	return rc;
}

int rv_standby_run(struct rv_store *s, const char *dir, const struct rv_standby_opts *o)
{
	struct rv_apply_opts ao = {.allow_outside_links = o->restore.allow_outside_links};
	unsigned interval = o->interval_ms ? o->interval_ms : 1000;
	unsigned lag_log = o->lag_log_ms ? o->lag_log_ms : 30000;
	struct standby sb = {.s = s, .o = o};
	int64_t last_lag_log = rv_mono_ms();
	int rc;

	if ((rc = rv_apply_open(&sb.a, s, dir, &ao)))
		return rc;
	sb.ro = o->restore;
	sb.ro.delete_extra = true;
	sb.ro.stop = stop_now;
	sb.ro.stop_ud = (void *)o;
	for (;;) {
		double lag;

		if (!sb.have) {
			rc = full_restore(&sb);
		} else {
			rc = follow(&sb);
		}
		if (rc == RV_EINTR)
			break;
		if (rc == RV_EUSAGE || rc == RV_EAUTH || rc == RV_ENOTSUP) {
			/* Configuration, not weather: retrying will not help. */
			break;
		}
		if (rc)
			report_error(&sb, sb.have ? "standby cannot follow the store"
						  : "standby cannot restore the latest point");
		rc = 0;
		lag = sb.have ? (double)(rv_now_ms() - sb.current_ms) / 1000.0 : -1.0;
		if (lag < 0 && sb.have)
			lag = 0;
		if (o->applied && sb.have)
			o->applied(o->applied_ud, sb.gen, sb.seq, sb.commit_ms, lag);
		if (sb.have && rv_mono_ms() - last_lag_log >= lag_log) {
			char l[32], q[24], when[32];

			snprintf(l, sizeof(l), "%.3f", lag);
			snprintf(q, sizeof(q), "%" PRIu64, sb.seq);
			rv_restore_format_time(when, sb.commit_ms);
			rv_log(RV_LOG_INFO, "standby lag", "lag_seconds", l, "generation", sb.gen,
			       "seq", q, "last_commit", when, NULL);
			last_lag_log = rv_mono_ms();
		}
		if (o->wait && o->wait(o->wait_ud, interval))
			break;
	}
	if (rc == RV_EINTR)
		rc = 0; /* asked to stop: a clean exit */
	free(sb.last_err);
	rv_apply_free(sb.a);
	return rc;
}
