/* hset.c - the hash set (see hset.h). */
#include "core/hset.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MIN_CAP 16

/* Slots needed to hold n keys at most 70% full. */
static size_t cap_for(size_t n)
{
	size_t cap = MIN_CAP;

	while (cap / 10 * 7 < n && cap <= SIZE_MAX / 4)
		cap *= 2;
	return cap;
}

void rv_hset_init(struct rv_hset *s, const char *what, size_t max_keys)
{
	uint64_t seed;

	memset(s, 0, sizeof(*s));
	s->what = what ? what : "keys";
	s->max = max_keys;
	s->max_cap = cap_for(max_keys);
	/* A weak seed only costs collision resistance, never correctness. */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)s;
	}
	s->seed = seed;
}

void rv_hset_release(struct rv_hset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slot[i].key);
	free(s->slot);
	s->slot = NULL;
	s->cap = 0;
	s->n = 0;
}

/* FNV-1a (64-bit offset basis and prime) from a seeded state, then a
 * xor-shift-multiply finish: FNV's low bits alone mix poorly, and the slot
 * is taken from the low bits. */
static uint64_t hash(const struct rv_hset *s, const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ull ^ s->seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	return h;
}

/* The slot that holds the key, or the free slot where it would go. */
static struct rv_hset_slot *probe(const struct rv_hset *s, const void *key, size_t len, uint64_t h)
{
	size_t mask = s->cap - 1;

	for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
		struct rv_hset_slot *e = &s->slot[i];

		if (!e->key || (e->hash == h && e->len == len && !memcmp(e->key, key, len)))
			return e;
	}
}

static void grow(struct rv_hset *s)
{
	struct rv_hset_slot *old = s->slot;
	size_t ocap = s->cap;

	s->cap = ocap ? 2 * ocap : MIN_CAP;
	s->slot = rv_calloc(s->cap, sizeof(*s->slot));
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key)
			*probe(s, old[i].key, old[i].len, old[i].hash) = old[i];
	free(old);
}

int rv_hset_add(struct rv_hset *s, const void *key, size_t len, void ***val)
{
	uint64_t h = hash(s, key, len);
	struct rv_hset_slot *e;

	if (s->cap) {
		e = probe(s, key, len, h);
		if (e->key) {
			if (val)
				*val = &e->val;
			return 0;
		}
	}
	if (s->n >= s->max)
		return rv_error(RV_EFAIL, "more than %zu %s: refusing to hold more in memory",
				s->max, s->what);
	/* max_cap holds max keys at 70%: the table is never full. */
	if (s->n + 1 > s->cap / 10 * 7 && s->cap < s->max_cap)
		grow(s);
	e = probe(s, key, len, h);
	e->key = rv_malloc(len + 1);
	if (len)
		memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->len = len;
	e->hash = h;
	e->val = NULL;
	s->n++;
	if (val)
		*val = &e->val;
	return 0;
}

void **rv_hset_find(const struct rv_hset *s, const void *key, size_t len)
{
	struct rv_hset_slot *e;

	if (!s->n)
		return NULL;
	e = probe(s, key, len, hash(s, key, len));
	return e->key ? &e->val : NULL;
}

bool rv_hset_has(const struct rv_hset *s, const void *key, size_t len)
{
	return rv_hset_find(s, key, len) != NULL;
}

bool rv_hset_del(struct rv_hset *s, const void *key, size_t len)
{
	size_t mask = s->cap - 1, i, j;
	struct rv_hset_slot *e;

	if (!s->n)
		return false;
	e = probe(s, key, len, hash(s, key, len));
	if (!e->key)
		return false;
	free(e->key);
	e->key = NULL;
	s->n--;
	/* Backward shift: pull later keys of the run into the hole unless
	 * that would put one before its home slot. */
	i = (size_t)(e - s->slot);
	for (j = (i + 1) & mask; s->slot[j].key; j = (j + 1) & mask) {
		size_t home = (size_t)s->slot[j].hash & mask;

		/* The key at j may move to i when i lies cyclically in [home, j). */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			s->slot[i] = s->slot[j];
			s->slot[j].key = NULL;
			i = j;
		}
	}
	return true;
}

bool rv_hset_next(const struct rv_hset *s, size_t *pos, const struct rv_hset_slot **out)
{
	for (; *pos < s->cap; (*pos)++) {
		if (s->slot[*pos].key) {
			*out = &s->slot[(*pos)++];
			return true;
		}
	}
	return false;
}
