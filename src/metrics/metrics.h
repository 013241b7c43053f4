/* metrics.h - a small registry of Prometheus counters and gauges, and the
 * HTTP endpoint that serves them (/metrics) with a health check (/healthz).
 *
 * Any subsystem may register a metric at any time; registering the same
 * name and labels again returns the same metric, so callers need not keep
 * the pointer.  Updates are lock-free atomics, safe from any thread; the
 * registry's list is under a mutex that only registration and rendering
 * take.  Metrics live as long as the registry.
 *
 *   struct rv_metric *shipped = rv_metrics_counter(m, "revenant_content_files_shipped_total",
 *                                                  "Files uploaded and committed.", NULL);
 *   rv_metric_add(shipped, 1);
 *   rv_metric_set(rv_metrics_gauge(m, "revenant_lease_epoch", "...", NULL), 4);
 *
 * Labels are given pre-rendered without the braces: "kind=\"upload\"". */
#ifndef RV_METRICS_H
#define RV_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define RV_METRICS_DEFAULT_LISTEN "127.0.0.1:9187"

/* revenant_role{role="primary"|"fenced"|"standby"}: one help text for the
 * processes that set it. */
#define RV_METRICS_ROLE_HELP                                                                       \
	"1 for the role this process plays (primary: holds the lease and replicates; fenced: "     \
	"lost it; standby: follows the primary)."

struct rv_metrics;
struct rv_metric;

void rv_metrics_new(struct rv_metrics **out);
void rv_metrics_free(struct rv_metrics *m);

/* Find or create; `labels` may be NULL.  Never NULL (aborts on OOM). */
struct rv_metric *rv_metrics_counter(struct rv_metrics *m, const char *name, const char *help,
				     const char *labels);
struct rv_metric *rv_metrics_gauge(struct rv_metrics *m, const char *name, const char *help,
				   const char *labels);

void rv_metric_add(struct rv_metric *x, double v);
void rv_metric_set(struct rv_metric *x, double v);
double rv_metric_get(const struct rv_metric *x);

/* revenant_errors_total{kind="<kind>"} += 1. */
void rv_metrics_error(struct rv_metrics *m, const char *kind);

/* The Prometheus text exposition format (version 0.0.4), metrics grouped by
 * name with one HELP and TYPE line each, in registration order. */
int rv_metrics_render(struct rv_metrics *m, struct rv_buf *out) RV_WARN_UNUSED;

/* 0 when healthy; otherwise a negative value and a one-line reason in `why`. */
typedef int (*rv_health_fn)(void *ud, char *why, size_t n);

struct rv_metrics_server;
/* Serve GET /metrics and /healthz on `listen` ("host:port", "[v6]:port")
 * from a thread of libmicrohttpd's.  RV_EUSAGE naming the address when it
 * cannot listen there. */
int rv_metrics_serve(struct rv_metrics_server **out, const char *listen, struct rv_metrics *m,
		     rv_health_fn health, void *ud) RV_WARN_UNUSED;
/* The port actually bound (for listen addresses with port 0). */
unsigned rv_metrics_server_port(const struct rv_metrics_server *s);
void rv_metrics_server_free(struct rv_metrics_server *s);

#endif
