/* gate.c - the Ghost gate (gate.h). */
#include "engine/gate.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/filewatch.h"
#include "core/log.h"
#include "core/util.h"

/* Without inotify (a file system that has none), how often the wait looks. */
#define GATE_RECHECK_MS 200

static int gate_path(char *out, size_t n, const char *dir, const char *name)
{
	if ((size_t)snprintf(out, n, "%s/%s", dir, name) >= n)
		return rv_error(RV_EUSAGE, "hooks.gate '%s': the path is too long", dir);
	return 0;
}

int rv_gate_open(const char *dir)
{
	char path[4096];
	int fd;

	if (gate_path(path, sizeof(path), dir, "open"))
		return RV_EUSAGE;
	if (rv_mkdirs(dir))
		return rv_error(RV_EUSAGE,
				"hooks.gate '%s': cannot create the folder (%s) — mount the "
				"volume shared with Ghost's container there, writable by "
				"revenant's user",
				dir, rv_errmsg());
	if (!access(path, F_OK))
		return 0; /* open already */
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd == -1)
		return rv_error(RV_EUSAGE,
				"hooks.gate: cannot create %s (%s) — the folder must be "
				"writable by revenant's user",
				path, strerror(errno));
	close(fd);
	rv_log(RV_LOG_INFO, "gate opened: Ghost may run", "gate", dir, NULL);
	return 0;
}

/* 1 while `path` exists, 0 once it does not, < 0 when it cannot be told. */
static int exists(const char *path)
{
	struct stat st;

	if (!lstat(path, &st))
		return 1;
	if (errno == ENOENT)
		return 0;
	return rv_error(RV_EUSAGE, "hooks.gate: cannot look at %s (%s)", path, strerror(errno));
}

int rv_gate_close(const char *dir, unsigned timeout_ms)
{
	static const char *const watched[] = {"running"};
	char open_path[4096], running[4096], ms[24];
	struct rv_filewatch *fw = NULL;
	int64_t t0 = rv_mono_ms(), end = t0 + timeout_ms;
	bool was_open = true, ran;
	int rc;

	if (gate_path(open_path, sizeof(open_path), dir, "open") ||
	    gate_path(running, sizeof(running), dir, "running"))
		return RV_EUSAGE;
	if (unlink(open_path) == -1) {
		if (errno != ENOENT)
			return rv_error(RV_EUSAGE,
					"hooks.gate: cannot remove %s (%s) — Ghost would go on "
					"running; the folder must be writable by revenant's user",
					open_path, strerror(errno));
		was_open = false;
	}
	/* Watch before looking, so that a removal between the two wakes us. */
	if (rv_filewatch_open(&fw, dir, watched, 1))
		rv_error_clear(); /* no inotify here: look every GATE_RECHECK_MS */
	ran = exists(running) == 1;
	while ((rc = exists(running)) == 1) {
		int64_t left = end - rv_mono_ms();
		struct pollfd p = {.fd = fw ? rv_filewatch_fd(fw) : -1, .events = POLLIN};

		if (left <= 0)
			break;
		if (!fw && left > GATE_RECHECK_MS)
			left = GATE_RECHECK_MS;
		if (poll(&p, fw ? 1 : 0, (int)left) > 0 && rv_filewatch_drain(fw) < 0) {
			rv_filewatch_free(fw);
			fw = NULL;
			rv_error_clear();
		}
	}
	rv_filewatch_free(fw);
	if (rc < 0)
		return rc;
	if (rc == 1)
		return rv_error(RV_ENET,
				"hooks.gate: Ghost still runs %u s after the gate closed (%s is "
				"there) — is ghost-gate.sh Ghost's command, and does Ghost stop "
				"on SIGTERM within hooks.timeout?",
				timeout_ms / 1000, running);
	if (!was_open && !ran)
		return 0; /* closed already, nothing ran */
	snprintf(ms, sizeof(ms), "%" PRId64, rv_mono_ms() - t0);
	rv_log(RV_LOG_INFO, "gate closed: Ghost stopped", "gate", dir, "ms", ms, NULL);
	return 0;
}
