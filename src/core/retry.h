/* retry.h - jittered exponential backoff with an attempt limit and a
 * deadline, plus the process-wide shutdown flag that long operations poll.
 *
 *   struct rv_retry r;
 *   rv_retry_start(&r, &policy);
 *   for (;;) {
 *           rc = attempt();
 *           if (!rc || !retryable(rc) || !rv_retry_next(&r))
 *                   break;
 *   }
 *
 * Delays use "full jitter": uniform in [0, min(cap, base * 2^attempt)].
 * The deadline wins over the attempt count: rv_retry_next() refuses to
 * sleep past it, and rv_retry_remaining_ms() bounds each attempt. */
#ifndef RV_RETRY_H
#define RV_RETRY_H

#include <stdbool.h>
#include <stdint.h>

struct rv_retry_policy {
	unsigned max_attempts; /* total attempts including the first; 0 = 8 */
	long base_ms;	       /* 0 = 100 */
	long cap_ms;	       /* 0 = 10000 */
	long deadline_ms;      /* whole operation; 0 = no deadline */
};

struct rv_retry {
	struct rv_retry_policy p;
	int64_t start_ms;    /* monotonic */
	int64_t deadline_at; /* monotonic; INT64_MAX when none */
	unsigned attempt;    /* attempts made so far (1 after the first) */
	uint64_t rng;
	long last_delay_ms;
};

void rv_retry_start(struct rv_retry *r, const struct rv_retry_policy *p);
/* Called after a failed attempt: sleeps the backoff and returns true when
 * another attempt may be made; false when attempts, deadline or a shutdown
 * say stop.  Sleeping is cut short by rv_shutdown_request(). */
bool rv_retry_next(struct rv_retry *r);
/* Milliseconds left before the deadline (INT64_MAX/2 when none, 0 when past). */
int64_t rv_retry_remaining_ms(const struct rv_retry *r);
/* The backoff before attempt `attempt` + 1 (attempt >= 1), for tests. */
long rv_retry_backoff_ms(const struct rv_retry_policy *p, unsigned attempt, uint64_t *rng);

/* Shutdown flag: set from the signal-handling thread (or a handler: it is
 * an atomic store), polled by transfers and retry sleeps, which then stop
 * with RV_EINTR. */
void rv_shutdown_request(void);
bool rv_shutdown_requested(void);
/* Clear the flag: for tests, and for a writer that raised it to cut its
 * own uploads short when the process goes on (engine/replicate.c). */
void rv_shutdown_reset(void);

#endif
