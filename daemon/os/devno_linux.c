/*
 * devno_linux.c: a device number's halves (devno.h), by glibc's <sys/sysmacros.h>.
 */
#include <sys/types.h>
#include <sys/sysmacros.h>

#include "devno.h"

unsigned int
devno_major(dev_t dev)
{
	return (unsigned int)major(dev);
}

unsigned int
devno_minor(dev_t dev)
{
	return (unsigned int)minor(dev);
}

dev_t
devno_make(unsigned int ma, unsigned int mi)
{
	return makedev(ma, mi);
}
