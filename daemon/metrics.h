/*
 * metrics.h: Prometheus metrics in the node_exporter textfile collector
 * format, written after each transaction (after thaw, never while
 * anything is frozen) when metrics_file is set.
 */
#ifndef HVVSS_METRICS_H
#define HVVSS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Count one ended transaction: a backup (a FREEZE, with its latency in
 * us, 0 if none) or a HOT_BACKUP check, which counts only if an app
 * vetoed it.
 */
void metrics_backup(bool backup, bool local, bool ok, const char *culprit,
    uint64_t freeze_us, uint64_t frozen_us, bool lease_expired);
void metrics_guard_thaw(void);
/*
 * Write them to path atomically, on a thread of its own (the file may
 * sit on a filesystem someone froze); a write asked for while one is
 * under way replaces any that waited.  0 or -errno.
 */
int metrics_write(const char *path);
/* The same for text made elsewhere (the engine's, in the parent). */
int metrics_write_text(const char *path, const char *text, size_t len);
/* The textfile's text (malloc'd, *len bytes), for another process to
 * write (the privileged parent); NULL on failure. */
char *metrics_text(size_t *len);

#endif /* HVVSS_METRICS_H */
