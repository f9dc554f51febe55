/*
 * test_devstack.c: unit tests for daemon/os/devstack_md.c, the naming
 * rule the FreeBSD device-stack walk (daemon/os/devstack_freebsd.c)
 * uses to find the md(4) unit, and so the image, under a filesystem's
 * source.  A name taken for an md layer that is not one would order a
 * filesystem after an unrelated image; one missed would freeze an
 * image's host first and hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "os/devstack.h"

static void
test_md_names(void **state)
{
	static const struct {
		const char *name;
		int unit;
	} cases[] = {
	    {"/dev/md0", 0},
	    {"md0", 0},
	    {"/dev/md12", 12},
	    {"/dev/md3p1", 3},
	    {"/dev/md3p12", 3},
	    {"/dev/md3s1", 3},
	    {"/dev/md3s1a", 3},
	    {"/dev/md3a", 3},
	    {"/dev/md3.eli", 3},
	    {"/dev/md3p2.eli", 3},
	    {"/dev/md3s1d.eli", 3},
	    {"/dev/md3.nop", 3},
	    {"/dev/md3.nop.eli", 3},
	    /* not md, or not a layer we know */
	    {"/dev/ada0p2", -1},
	    {"/dev/mirror/gm0", -1},
	    {"/dev/gpt/rootfs", -1},
	    {"/dev/md", -1},
	    {"/dev/mdctl", -1},
	    {"/dev/md01", -1},
	    {"/dev/md3x", -1},
	    {"/dev/md3p", -1},
	    {"/dev/md3i", -1},
	    {"/dev/md3.journal", -1},
	    {"/dev/md99999999", -1},
	    {"zroot/usr", -1},
	    {"tmpfs", -1},
	    {"/dev/xmd0", -1},
	    {"", -1},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (devstack_md_unit(cases[i].name) != cases[i].unit)
			fail_msg("%s: unit %d, want %d", cases[i].name,
			    devstack_md_unit(cases[i].name), cases[i].unit);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_md_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
