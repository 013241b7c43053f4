#include "core/testpoint.h"

#ifdef RV_TESTPOINTS

#include "core/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TP_NAME_MAX 64

/* The parsed REVENANT_TESTPOINT: read once, then only the counters move. */
static struct {
	bool on;
	char first[TP_NAME_MAX]; /* "" when counting starts at once */
	char name[TP_NAME_MAX];
	uint64_t n;
	atomic_bool armed;
	atomic_uint_fast64_t hits;
} tp;
static pthread_once_t tp_once = PTHREAD_ONCE_INIT;

static bool copy_name(char *dst, const char *s, size_t len)
{
	if (len == 0 || len >= TP_NAME_MAX)
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

static void tp_parse(void)
{
	const char *v = getenv("REVENANT_TESTPOINT");
	const char *name, *gt, *at;
	char num[TP_NAME_MAX];

	if (!v || !*v)
		return;
	gt = strchr(v, '>');
	name = gt ? gt + 1 : v;
	at = strchr(name, '@');
	tp.n = 1;
	if ((gt && !copy_name(tp.first, v, (size_t)(gt - v))) ||
	    !copy_name(tp.name, name, at ? (size_t)(at - name) : strlen(name)) ||
	    (at &&
	     (!copy_name(num, at + 1, strlen(at + 1)) || rv_parse_u64(num, &tp.n) || tp.n == 0))) {
		/* Not rv_log: this runs before or beside logging set-up. */
		dprintf(2,
			"revenant: REVENANT_TESTPOINT=%s ignored: want NAME[@N] or "
			"FIRST>NAME[@N] with N >= 1\n",
			v);
		return;
	}
	atomic_store(&tp.armed, !gt);
	tp.on = true;
}

void rv_testpoint(const char *name)
{
	pthread_once(&tp_once, tp_parse);
	if (!tp.on)
		return;
	if (!atomic_load(&tp.armed)) {
		if (!strcmp(name, tp.first))
			atomic_store(&tp.armed, true);
		return;
	}
	if (strcmp(name, tp.name) || atomic_fetch_add(&tp.hits, 1) + 1 != tp.n)
		return;
	dprintf(2, "revenant: stopped at test point %s\n", name);
	raise(SIGSTOP);
}

#endif
