/* filewatch.h - "has one of these files in this folder changed?", as a
 * file descriptor a poll loop can sleep on (inotify on the folder).
 *
 * For a source whose changes have no event of their own: SQLite's WAL
 * grows by write(2), so an IN_MODIFY on "ghost.db-wal" means a commit may
 * be waiting.  Names are matched exactly; everything else in the folder
 * (revenant's own spool files, say) never wakes anyone.  Events are hints,
 * not the truth: a caller still checks the source itself, and checks it now
 * and then without an event (a folder on a file system without inotify, a
 * queue overflow — both reported as "changed" when seen). */
#ifndef RV_FILEWATCH_H
#define RV_FILEWATCH_H

#include <stdbool.h>

#include "core/err.h"

struct rv_filewatch;

/* Watch `names` (n of them, plain names, no '/') in folder `dir`: writes
 * to them, and their creation, deletion or replacement by rename.
 * RV_EFAIL when inotify is unavailable (the caller falls back to its
 * timer). */
int rv_filewatch_open(struct rv_filewatch **out, const char *dir, const char *const *names,
		      unsigned n) RV_WARN_UNUSED;
/* Readable when an event is waiting. */
int rv_filewatch_fd(const struct rv_filewatch *fw);
/* Read every waiting event, never blocking: 1 when one of them was about a
 * watched name or events were lost, 0 when not, RV_EFAIL when the watch is
 * gone (the folder was removed or the read failed): free it and rely on
 * the timer. */
int rv_filewatch_drain(struct rv_filewatch *fw) RV_WARN_UNUSED;
void rv_filewatch_free(struct rv_filewatch *fw);

#endif
