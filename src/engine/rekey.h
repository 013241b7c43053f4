/* rekey.h - `revenant rekey`: every object of an encrypted store that is
 * sealed under another key than the current one is rewritten under the
 * current key, then the store's marker forgets the other keys.
 *
 * Crash-safe by construction: an object is read and opened whole (into a
 * temporary file), sealed again and put under its own name, which the
 * store replaces atomically (file: rename; S3: one PUT or a completed
 * multipart upload), so a killed rekey leaves every object either as it
 * was or rewritten — readable either way while both keys are in the
 * keyring — and a second run finishes the job.  Where the store has
 * conditional puts the rewrite is put-if-match on the etag read, so an
 * object changed meanwhile (the lease, a heartbeat) is never overwritten
 * with its older contents; such an object is looked at again.  The marker
 * is trimmed only after a run that found nothing left under another key. */
#ifndef RV_ENGINE_REKEY_H
#define RV_ENGINE_REKEY_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "format/sealed.h"

struct rv_store;

struct rv_rekey_opts {
	bool dry_run;  /* count, rewrite nothing */
	unsigned jobs; /* objects in flight; 0: 4 */
};

struct rv_rekey_stats {
	char current[RV_SEAL_KEYID_HEX]; /* the key everything is sealed under now */
	uint64_t scanned;		 /* objects looked at (the marker not counted) */
	uint64_t already;		 /* already under the current key */
	uint64_t rewritten;		 /* rewritten (dry run: would be) */
	uint64_t bytes;			 /* their plaintext bytes */
	uint64_t vanished;		 /* deleted while rekey ran (prune) */
	unsigned marker_dropped;	 /* key entries removed from the marker */
};

/* RV_EUSAGE when the store is not encrypted; the first failure otherwise
 * (the message names the object).  A key the keyring lacks is RV_EAUTH. */
int rv_rekey_run(struct rv_store *s, const struct rv_rekey_opts *o,
		 struct rv_rekey_stats *st) RV_WARN_UNUSED;

#endif
