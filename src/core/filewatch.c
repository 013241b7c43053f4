#include "core/filewatch.h"
#include "core/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FW_NAMES_MAX 4

struct rv_filewatch {
	int fd;
	unsigned n;
	char *names[FW_NAMES_MAX];
};

int rv_filewatch_open(struct rv_filewatch **out, const char *dir, const char *const *names,
		      unsigned n)
{
	struct rv_filewatch *fw;

	*out = NULL;
	if (n == 0 || n > FW_NAMES_MAX)
		return rv_error(RV_EUSAGE, "filewatch: 1 to %d names", FW_NAMES_MAX);
	fw = rv_calloc(1, sizeof(*fw));
	fw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fw->fd == -1) {
		int e = errno;

		free(fw);
		return rv_error_errno(RV_EFAIL, e, "cannot start inotify for '%s'", dir);
	}
	if (inotify_add_watch(fw->fd, dir,
			      IN_MODIFY | IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM |
				  IN_ONLYDIR) == -1) {
		int e = errno;

		close(fw->fd);
		free(fw);
		return rv_error_errno(RV_EFAIL, e, "cannot watch '%s'", dir);
	}
	for (unsigned i = 0; i < n; i++)
		fw->names[i] = rv_strdup(names[i]);
	fw->n = n;
	*out = fw;
	return 0;
}

int rv_filewatch_fd(const struct rv_filewatch *fw)
{
	return fw->fd;
}

int rv_filewatch_drain(struct rv_filewatch *fw)
{
	_Alignas(struct inotify_event) char buf[4096];
	bool hit = false, gone = false;

	for (;;) {
		ssize_t got = read(fw->fd, buf, sizeof(buf));

		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1 && errno == EAGAIN)
			break;
		if (got <= 0)
			return rv_error_errno(RV_EFAIL, got ? errno : EIO,
					      "cannot read inotify events");
		for (char *p = buf; p < buf + got;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				hit = true;
			if (ev->mask & IN_IGNORED) /* the folder went away */
				gone = true;
			for (unsigned i = 0; !hit && ev->len && i < fw->n; i++)
				hit = !strcmp(ev->name, fw->names[i]);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (gone)
		return rv_error(RV_EFAIL, "the watched folder is gone");
	return hit;
}

void rv_filewatch_free(struct rv_filewatch *fw)
{
	if (!fw)
		return;
	close(fw->fd);
	for (unsigned i = 0; i < fw->n; i++)
		free(fw->names[i]);
	free(fw);
}
