/* hset.h - a hash set of byte-string keys, each able to carry one pointer.
 *
 * Keys are any bytes (a path, an object key, a SHA-256 digest; the empty
 * key too) and are COPIED: the set owns its copies, stored with a NUL after
 * the last byte so that string keys read back as C strings.  Values are
 * BORROWED: a key's value slot starts NULL, the caller puts what it likes
 * there and frees it itself; the set never looks at it.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones), at most 70% full; the table doubles from 16 slots.  Growth is
 * capped: the set refuses the key after `max_keys` (given at init) with
 * RV_EFAIL, so that input from outside cannot eat memory.
 *
 * The hash is 64-bit FNV-1a started from a per-set random seed and finished
 * with a 64-bit avalanche mix, so that the low bits (the slot) depend on
 * every byte and two sets do not collide on the same keys.  Iteration order
 * therefore differs from run to run: sort what must be ordered.
 *
 * Not thread-safe: one owner at a time, or the caller's lock. */
#ifndef RV_HSET_H
#define RV_HSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct rv_hset_slot {
	char *key; /* owned copy, NUL-terminated; NULL: the slot is free */
	size_t len;
	uint64_t hash;
	void *val; /* borrowed */
};

struct rv_hset {
	struct rv_hset_slot *slot; /* NULL until the first add */
	size_t cap;		   /* slots: 0 or a power of two */
	size_t n;		   /* keys */
	size_t max;		   /* keys the set accepts */
	size_t max_cap;		   /* slots the table may grow to */
	uint64_t seed;
	const char *what; /* names the keys in the "too many" message */
};

/* An empty set that takes up to `max_keys` keys; `what` ("paths in the
 * overlay") is borrowed and names them when the cap is hit. */
void rv_hset_init(struct rv_hset *s, const char *what, size_t max_keys);
/* Free the key copies and the table (never the values); `s` is empty and
 * keeps its cap, so it may be used again. */
void rv_hset_release(struct rv_hset *s);

/* Add `key` unless present.  0, with *val (when val is not NULL) pointing
 * at the key's value slot (NULL for a key just added); RV_EFAIL when the
 * set already holds max_keys keys. */
int rv_hset_add(struct rv_hset *s, const void *key, size_t len, void ***val) RV_WARN_UNUSED;
bool rv_hset_has(const struct rv_hset *s, const void *key, size_t len);
/* The key's value slot, NULL when the key is absent. */
void **rv_hset_find(const struct rv_hset *s, const void *key, size_t len);
/* Remove `key` (its value is the caller's); false when it was absent. */
bool rv_hset_del(struct rv_hset *s, const void *key, size_t len);
/* Walk the keys: start with *pos = 0; each call fills the next slot and
 * returns true, false at the end.  No add or del during a walk. */
bool rv_hset_next(const struct rv_hset *s, size_t *pos, const struct rv_hset_slot **out);

static inline size_t rv_hset_count(const struct rv_hset *s)
{
	return s->n;
}

#endif
