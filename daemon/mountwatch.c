/*
 * mountwatch.c: the mount table's change counter (see mountwatch.h).
 *
 * The descriptor is the platform's (os/mtab.h, mtab_watch_open()),
 * opened once: poll() says POLLERR|POLLPRI once the table changed (and
 * the kernel takes note that we were told).  Anything we cannot
 * interpret counts as a change, so that the worst a failure here costs
 * is a fresh read of the table.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "mountwatch.h"
#include "os/mtab.h"

struct mountwatch {
	int fd;
	bool primed; /* the first call reported a change */
};

struct mountwatch *
mountwatch_open(const char *path)
{
	struct mountwatch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->fd = mtab_watch_open(path)) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void
mountwatch_close(struct mountwatch *w)
{
	if (w == NULL)
		return;
	close(w->fd);
	free(w);
}

bool
mountwatch_changed(struct mountwatch *w)
{
	struct pollfd pfd = {.fd = w->fd, .events = POLLPRI};
	int n;

	while ((n = poll(&pfd, 1, 0)) == -1 && errno == EINTR)
		;
	if (!w->primed) {
		w->primed = true;
		return true;
	}
	if (n == -1)
		return true;
	/* no change: only POLLIN, which we did not ask for, so n == 0 */
	return n > 0 && (pfd.revents & (POLLPRI | POLLERR | POLLNVAL)) != 0;
}
