/*
 * devno.h: a device number's two halves, for messages and the record
 * (issue 11, item 2).  glibc declares major() and minor() in
 * <sys/sysmacros.h> only; FreeBSD in <sys/types.h>, with a different
 * split of the bits.  Above the seams a device number is only printed,
 * parsed back and compared, so these three are all it needs.
 */
#ifndef HVVSS_DEVNO_H
#define HVVSS_DEVNO_H

#include <sys/types.h>

unsigned int devno_major(dev_t dev);
unsigned int devno_minor(dev_t dev);
dev_t devno_make(unsigned int major, unsigned int minor);

#endif /* HVVSS_DEVNO_H */
