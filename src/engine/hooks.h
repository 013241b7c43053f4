/* hooks.h - the operator's commands at a role change (docs/OPERATIONS.md,
 * "Hooks").
 *
 * With hooks.gate set, revenant opens the Ghost gate (engine/gate.h) before
 * the promote hook, and closes it — waiting until Ghost has stopped —
 * before the demote, fenced and standby hooks; one hooks.timeout covers
 * the gate and the hook together.
 *
 * A hook is an executable's absolute path.  It runs with the event as its
 * one argument, no stdin, the event described in REVENANT_* variables, in
 * its own process group, killed with everything it started when it
 * outlives hooks.timeout.  Its output is logged (the last line of each
 * stream).  A hook that fails stops the transition where it is: the caller
 * says which state that leaves and how to finish. */
#ifndef RV_ENGINE_HOOKS_H
#define RV_ENGINE_HOOKS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

enum rv_hook_event {
	RV_HOOK_PROMOTE, /* this site becomes primary: start Ghost */
	RV_HOOK_DEMOTE,	 /* before handing the role over: stop Ghost's writes */
	RV_HOOK_FENCED,	 /* this site lost the lease: stop Ghost */
	RV_HOOK_STANDBY, /* this site follows the other */
};

struct rv_hooks {
	const char *cmd[4]; /* by event; NULL: nothing to run */
	const char *gate;   /* the Ghost gate's folder; NULL: none */
	unsigned timeout_ms;
};

/* Whether anything stops Ghost's writes at `ev` (demote, fenced): its hook
 * or the gate. */
bool rv_hooks_stop_ghost(const struct rv_hooks *h, enum rv_hook_event ev);

struct rv_config;
void rv_hooks_from_config(const struct rv_config *c, struct rv_hooks *out);

/* What the hook's environment says (REVENANT_EVENT, _SITE, _EPOCH,
 * _GENERATION, _POINT_SEQ, _POINT_TIME, _LOSS_BOUND_SECONDS, _FROM_SITE,
 * _SAVED); fields left 0/NULL are left out. */
struct rv_hook_info {
	const char *site;
	uint64_t epoch;
	const char *gen;
	uint64_t seq;
	int64_t point_ms;
	int64_t loss_bound_ms; /* < 0: unknown */
	const char *from_site;
	const char *saved; /* where a fenced writer's divergent writes went */
};

const char *rv_hook_name(enum rv_hook_event ev);

/* 0 when no hook is set for `ev` or it exited 0 (and the gate, if any, is
 * open or closed as the event wants); RV_EFAIL naming the hook, its exit
 * status and the last line it wrote to stderr; RV_ENET when it was killed at
 * the timeout, or Ghost did not stop within it after the gate closed;
 * RV_EUSAGE when it cannot be run. */
int rv_hook_run(const struct rv_hooks *h, enum rv_hook_event ev,
		const struct rv_hook_info *info) RV_WARN_UNUSED;

#endif
