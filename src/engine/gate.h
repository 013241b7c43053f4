/* gate.h - the Ghost gate: a folder shared with the process that runs Ghost
 * (hooks.gate; docs/OPERATIONS.md "The Ghost gate"), for places where a
 * hook cannot run a command of the operator's - a container image with no
 * shell beside Ghost's own container, as in deploy/k8s.
 *
 * Protocol, over two files in the folder:
 *   open     present while this site may take writes: Ghost runs only
 *            while it exists.  revenant creates and removes it.
 *   running  present while Ghost runs.  The wrapper beside Ghost
 *            (deploy/k8s/components/gate/ghost-gate.sh) creates it before it starts
 *            Ghost and removes it once Ghost has exited, and removes a
 *            stale one when it starts.
 * So closing the gate is done when `running` is gone: Ghost takes no more
 * writes.  The wait sleeps on inotify (core/filewatch.h), not on a timer. */
#ifndef RV_ENGINE_GATE_H
#define RV_ENGINE_GATE_H

#include "core/err.h"

/* Create `dir`/open (and `dir` itself when missing).  RV_EUSAGE naming the
 * folder when it cannot be written. */
int rv_gate_open(const char *dir) RV_WARN_UNUSED;

/* Remove `dir`/open, then wait until `dir`/running is gone, at most
 * `timeout_ms`: RV_ENET when Ghost still runs then (the message names the
 * file), RV_EUSAGE when the folder cannot be used. */
int rv_gate_close(const char *dir, unsigned timeout_ms) RV_WARN_UNUSED;

#endif
