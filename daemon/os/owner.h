/*
 * owner.h: how a daemon tells others that it lives, for the ownership
 * record (record.c): the seam under its owner check (issue 11, items 2
 * and 5).
 *
 * Each record entry names the daemon that froze it by pid and start
 * time (the pair names a process even after its pid is reused).  A
 * daemon says it lives by a read lock on one byte of run_dir, at an
 * offset made of that pair; another daemon asks whether the byte is
 * held.  The lock goes with the process, however it dies.
 *
 *   Linux (owner_linux.c): the start time is field 22 of
 *   /proc/self/stat (clock ticks after boot); the lock an open file
 *   description lock (F_OFD_SETLK, F_OFD_GETLK): it belongs to the
 *   descriptor, so nothing else the process opens or closes on run_dir
 *   drops it.
 *
 *   FreeBSD (owner_freebsd.c): the start time is kern.proc.pid's
 *   ki_start (microseconds since the epoch); the lock a POSIX record
 *   lock (F_SETLK, F_GETLK), since FreeBSD has no OFD locks.  A POSIX
 *   lock belongs to the process and goes when the process closes ANY
 *   descriptor of run_dir: record_recover() after record_open() in one
 *   process would drop it (the daemon recovers first, then opens).
 */
#ifndef HVVSS_OWNER_H
#define HVVSS_OWNER_H

#include <sys/types.h>
#include <stdint.h>

/* This process's start time.  0 or -errno. */
int owner_start(uint64_t *pstart);

/* Take the lock of (pid, pstart) on dirfd, for as long as dirfd is
 * open.  0 or -errno. */
int owner_hold(int dirfd, pid_t pid, uint64_t pstart);

/* Is the lock of (pid, pstart) held (by another process)?  1, 0 or
 * -errno. */
int owner_alive(int dirfd, pid_t pid, uint64_t pstart);

#endif /* HVVSS_OWNER_H */
