/*
 * fbsd_cmds: prints the ioctl numbers of common/hv_vss_fbsd.h as this
 * platform's _IOR and _IOW build them, and the message's size, so that
 * sim_rules.py checks its own Linux-formula numbers against the header.
 */
#include <stdio.h>

#include "hv_vss_fbsd.h"

int
main(void)
{
	printf("IOCHVVSSREAD 0x%08lx\n", (unsigned long)IOCHVVSSREAD);
	printf("IOCHVVSSWRITE 0x%08lx\n", (unsigned long)IOCHVVSSWRITE);
	printf("size %zu\n", sizeof(struct hv_vss_opt_msg));
	return 0;
}
