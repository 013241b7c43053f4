/* retry.c - backoff arithmetic and the shutdown flag (see retry.h). */
#include "core/retry.h"
#include "core/util.h"

#include <stdatomic.h>
#include <time.h>

static atomic_int shutdown_flag;

void rv_shutdown_request(void)
{
	atomic_store(&shutdown_flag, 1);
}

bool rv_shutdown_requested(void)
{
	return atomic_load(&shutdown_flag) != 0;
}

void rv_shutdown_reset(void)
{
	atomic_store(&shutdown_flag, 0);
}

/* xorshift64*: jitter needs spread, not cryptographic quality. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ULL;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static void normalise(struct rv_retry_policy *p)
{
	if (!p->max_attempts)
		p->max_attempts = 8;
	if (p->base_ms <= 0)
		p->base_ms = 100;
	if (p->cap_ms <= 0)
		p->cap_ms = 10000;
	if (p->cap_ms < p->base_ms)
		p->cap_ms = p->base_ms;
}

long rv_retry_backoff_ms(const struct rv_retry_policy *in, unsigned attempt, uint64_t *rng)
{
	struct rv_retry_policy p = *in;
	long ceiling = 0;

	normalise(&p);
	if (attempt < 1)
		attempt = 1;
	/* base * 2^(attempt-1), saturating at the cap before it can overflow. */
	ceiling = p.base_ms;
	for (unsigned i = 1; i < attempt && ceiling < p.cap_ms; i++)
		ceiling *= 2;
	if (ceiling > p.cap_ms)
		ceiling = p.cap_ms;
	return (long)(next_rand(rng) % (uint64_t)(ceiling + 1));
}

void rv_retry_start(struct rv_retry *r, const struct rv_retry_policy *p)
{
	struct timespec ts;

	r->p = *p;
	normalise(&r->p);
	r->start_ms = rv_mono_ms();
	r->deadline_at = r->p.deadline_ms > 0 ? r->start_ms + r->p.deadline_ms : INT64_MAX;
	r->attempt = 1;
	r->last_delay_ms = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* Seed from the clock and the object's address so that threads
	 * retrying together do not wake together. */
	r->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)(uintptr_t)r;
}

int64_t rv_retry_remaining_ms(const struct rv_retry *r)
{
	int64_t now;

	if (r->deadline_at == INT64_MAX)
		return INT64_MAX / 2;
	now = rv_mono_ms();
	return now >= r->deadline_at ? 0 : r->deadline_at - now;
}

bool rv_retry_next(struct rv_retry *r)
{
	long delay;
	int64_t until;

	if (rv_shutdown_requested() || r->attempt >= r->p.max_attempts)
		return false;
	delay = rv_retry_backoff_ms(&r->p, r->attempt, &r->rng);
	/* An attempt that could not even start before the deadline is pointless. */
	if (rv_retry_remaining_ms(r) <= delay)
		return false;
	r->last_delay_ms = delay;
	until = rv_mono_ms() + delay;
	for (;;) {
		int64_t left = until - rv_mono_ms();
		if (left <= 0)
			break;
		if (rv_shutdown_requested())
			return false;
		rv_sleep_ms(left > 50 ? 50 : left);
	}
	r->attempt++;
	return true;
}
