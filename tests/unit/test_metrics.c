/*
 * test_metrics.c: the metrics textfile (daemon/metrics.c).  A write asked
 * for while the one before is still under way is not lost: the file ends
 * with the newest counters.  (It used to be skipped with EBUSY, so a veto
 * that ended a few microseconds after the check before it never reached
 * the file: t_ctl's "metrics after the veto" failed about 1 run in 3.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "metrics.h"

#define OK_HOST "hvvss_backups_total{requester=\"host\",result=\"ok\"}"

/* The value of key in the file, -1 if the file or the key is missing. */
static long
value(const char *path, const char *key)
{
	char line[512];
	size_t n = strlen(key);
	long v = -1;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ' ')
			v = strtol(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

/* Wait (5 s at most) until the file says want; what it said last. */
static long
settle(const char *path, const char *key, long want)
{
	struct timespec ts = {0, 10 * 1000 * 1000};
	long v = -1;
	int i;

	for (i = 0; i < 500; i++) {
		if ((v = value(path, key)) == want)
			break;
		nanosleep(&ts, NULL);
	}
	return v;
}

/* Back to back, as a HOT_BACKUP and the vetoed FREEZE after it end. */
static void
test_burst_keeps_newest(void **state)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64];
	int i;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	for (i = 1; i <= 50; i++) {
		metrics_backup(true, false, true, NULL, 1000, 2000, false);
		assert_int_equal(metrics_write(path), 0);
	}
	assert_int_equal(settle(path, OK_HOST, 50), 50);
	/* and a write after the burst still lands */
	metrics_backup(true, false, true, NULL, 1000, 2000, false);
	assert_int_equal(metrics_write(path), 0);
	assert_int_equal(settle(path, OK_HOST, 51), 51);
	unlink(path);
	rmdir(dir);
}

/* A target that cannot be written: the next write still tries. */
static void
test_unwritable_then_fine(void **state)
{
	char dir[] = "/tmp/test_metrics.XXXXXX", path[64];

	assert_non_null(mkdtemp(dir));
	assert_int_equal(metrics_write("/nonexistent/dir/m.prom"), 0);
	snprintf(path, sizeof(path), "%s/m.prom", dir);
	metrics_backup(true, false, true, NULL, 1000, 2000, false);
	assert_int_equal(metrics_write(path), 0);
	assert_true(settle(path, OK_HOST, 52) == 52);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_keeps_newest),
	    cmocka_unit_test(test_unwritable_then_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
