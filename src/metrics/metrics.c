/* metrics.c - the registry and the libmicrohttpd endpoint (see metrics.h). */
#include "metrics/metrics.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Rendered output is small (tens of metrics); the cap guards a runaway
 * label set. */
#define RENDER_MAX (1u << 20)

enum mtype { M_COUNTER, M_GAUGE };

struct rv_metric {
	struct rv_metric *next;
	enum mtype type;
	char *name, *help, *labels;
	_Atomic uint64_t bits; /* a double */
};

struct rv_metrics {
	pthread_mutex_t mu;
	struct rv_metric *head, *tail;
};

struct rv_metrics_server {
	struct MHD_Daemon *d;
	struct rv_metrics *m;
	rv_health_fn health;
	void *ud;
	unsigned port;
};

static uint64_t to_bits(double v)
{
	uint64_t b;

	memcpy(&b, &v, sizeof(b));
	return b;
}

static double from_bits(uint64_t b)
{
	double v;

	memcpy(&v, &b, sizeof(v));
	return v;
}

void rv_metrics_new(struct rv_metrics **out)
{
	struct rv_metrics *m = rv_calloc(1, sizeof(*m));

	pthread_mutex_init(&m->mu, NULL);
	*out = m;
}

void rv_metrics_free(struct rv_metrics *m)
{
	if (!m)
		return;
	while (m->head) {
		struct rv_metric *x = m->head;

		m->head = x->next;
		free(x->name);
		free(x->help);
		free(x->labels);
		free(x);
	}
	pthread_mutex_destroy(&m->mu);
	free(m);
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static struct rv_metric *get(struct rv_metrics *m, enum mtype type, const char *name,
			     const char *help, const char *labels)
{
	struct rv_metric *x, *last_of_name = NULL;

	if (labels && !*labels)
		labels = NULL;
	pthread_mutex_lock(&m->mu);
	for (x = m->head; x; x = x->next) {
		if (strcmp(x->name, name))
			continue;
		last_of_name = x;
		if (same(x->labels, labels))
			break;
	}
	if (!x) {
		x = rv_calloc(1, sizeof(*x));
		x->type = type;
		x->name = rv_strdup(name);
		x->help = rv_strdup(help ? help : "");
		x->labels = labels ? rv_strdup(labels) : NULL;
		atomic_init(&x->bits, to_bits(0));
		/* Series of one name stay together: the exposition format wants
		 * one HELP/TYPE block per name. */
		if (last_of_name) {
			x->next = last_of_name->next;
			last_of_name->next = x;
			if (m->tail == last_of_name)
				m->tail = x;
		} else if (m->tail) {
			m->tail->next = x;
			m->tail = x;
		} else {
			m->head = m->tail = x;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return x;
}

struct rv_metric *rv_metrics_counter(struct rv_metrics *m, const char *name, const char *help,
				     const char *labels)
{
	return get(m, M_COUNTER, name, help, labels);
}

struct rv_metric *rv_metrics_gauge(struct rv_metrics *m, const char *name, const char *help,
				   const char *labels)
{
	return get(m, M_GAUGE, name, help, labels);
}

void rv_metric_add(struct rv_metric *x, double v)
{
	uint64_t old = atomic_load(&x->bits);

	while (!atomic_compare_exchange_weak(&x->bits, &old, to_bits(from_bits(old) + v)))
		;
}

void rv_metric_set(struct rv_metric *x, double v)
{
	atomic_store(&x->bits, to_bits(v));
}

double rv_metric_get(const struct rv_metric *x)
{
	return from_bits(atomic_load(&((struct rv_metric *)x)->bits));
}

void rv_metrics_error(struct rv_metrics *m, const char *kind)
{
	char labels[96];

	if (!m)
		return;
	snprintf(labels, sizeof(labels), "kind=\"%s\"", kind);
	rv_metric_add(rv_metrics_counter(m, "revenant_errors_total", "Errors by kind.", labels), 1);
}

static int add_value(struct rv_buf *b, double v)
{
	/* Integers print without an exponent so counters read naturally;
	 * 2^53 is where doubles stop holding every integer. */
	if (v == (double)(int64_t)v && v > -9007199254740992.0 && v < 9007199254740992.0)
		return rv_buf_addf(b, "%lld\n", (long long)v);
	return rv_buf_addf(b, "%.17g\n", v);
}

int rv_metrics_render(struct rv_metrics *m, struct rv_buf *b)
{
	const char *prev = NULL;
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	for (struct rv_metric *x = m->head; x && !rc; x = x->next) {
		if (!prev || strcmp(prev, x->name))
			rc = rv_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
					 x->name, x->type == M_COUNTER ? "counter" : "gauge");
		prev = x->name;
		if (!rc && x->labels)
			rc = rv_buf_addf(b, "%s{%s} ", x->name, x->labels);
		else if (!rc)
			rc = rv_buf_addf(b, "%s ", x->name);
		rc = rc ? rc : add_value(b, rv_metric_get(x));
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type,
			     char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct rv_metrics_server *s = cls;

	(void)version;
	(void)upload;
	(void)con_cls;
	if (*upload_size) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     rv_strdup("only GET and HEAD\n"), 18);
	if (!strcmp(url, "/metrics")) {
		struct rv_buf b = RV_BUF_INIT(RENDER_MAX);
		size_t len;
		char *body;

		if (rv_metrics_render(s->m, &b)) {
			rv_buf_release(&b);
			return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain",
				     rv_strdup("metrics too large\n"), 18);
		}
		body = rv_buf_detach(&b, &len);
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
			     body ? body : rv_strdup(""), len);
	}
	if (!strcmp(url, "/healthz")) {
		char why[512] = "";

		if (!s->health || s->health(s->ud, why, sizeof(why)) == 0)
			return reply(c, MHD_HTTP_OK, "text/plain", rv_strdup("ok\n"), 3);
		{
			char *body = rv_asprintf("%s\n", why);
			return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body,
				     strlen(body));
		}
	}
	return reply(c, MHD_HTTP_NOT_FOUND, "text/plain",
		     rv_strdup("not found: try /metrics or /healthz\n"), 36);
}

int rv_metrics_serve(struct rv_metrics_server **out, const char *listen, struct rv_metrics *m,
		     rv_health_fn health, void *ud)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	struct rv_metrics_server *s;
	const char *colon = strrchr(listen, ':');
	char host[256];
	size_t hl;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD;
	const union MHD_DaemonInfo *info;
	int gai;

	*out = NULL;
	if (!colon)
		return rv_error(RV_EUSAGE, "metrics.listen '%s' is not host:port", listen);
	hl = (size_t)(colon - listen);
	if (hl >= 2 && listen[0] == '[' && listen[hl - 1] == ']') {
		listen++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return rv_error(RV_EUSAGE, "metrics.listen host is too long");
	memcpy(host, listen, hl);
	host[hl] = '\0';
	gai = getaddrinfo(hl ? host : NULL, colon + 1, &hints, &ai);
	if (gai)
		return rv_error(RV_EUSAGE, "metrics.listen '%s': %s", host, gai_strerror(gai));
	s = rv_calloc(1, sizeof(*s));
	s->m = m;
	s->health = health;
	s->ud = ud;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)32,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!s->d) {
		free(s);
		return rv_error(RV_EUSAGE,
				"cannot serve metrics on %s:%s (address in use or not local?) — "
				"change metrics.listen or set it to off",
				host, colon + 1);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return 0;
}

unsigned rv_metrics_server_port(const struct rv_metrics_server *s)
{
	return s->port;
}

void rv_metrics_server_free(struct rv_metrics_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}
