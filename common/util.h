/*
 * util.h: the few helpers every program of hvvss would otherwise write
 * again: the monotonic clock, a write that finishes, and an error message
 * into the caller's buffer.  Like the rest of common/, nothing here logs
 * or exits; the library links it too (its names stay local there, see
 * lib/libhvvss.map).
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in microseconds. */
uint64_t mono_us(void);

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t mono_ms(void);

/* Write all of buf to fd, again after EINTR: 0, or -errno. */
int write_all(int fd, const void *buf, size_t len);

/*
 * fmt into err (errlen bytes; nothing if err is NULL), then
 * ": strerror(e)" unless e is 0.
 */
void errfmt(char *err, size_t errlen, int e, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* fmt after the string in buf (size bytes), cut at the buffer's end. */
void appendf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
