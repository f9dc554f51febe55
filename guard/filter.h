/*
 * filter.h: the thaw guard's seccomp allow-list (filter.c), loaded once
 * its setup is done and before it serves.
 */
#ifndef HVVSS_GUARD_FILTER_H
#define HVVSS_GUARD_FILTER_H

/* Load it: 0, or -errno (nothing loaded; the guard serves unfiltered). */
int guard_filter(void);

#endif /* HVVSS_GUARD_FILTER_H */
