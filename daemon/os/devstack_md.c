/*
 * devstack_md.c: which md(4) unit a FreeBSD device name stands on
 * (devstack.h).  Pure string work, built on every platform so that the
 * Linux unit tests check what the FreeBSD walk relies on.
 *
 * GEOM names the layers above a disk by suffix: "p1" a GPT or BSD-
 * style partition, "s1" an MBR slice, a letter a BSD label partition,
 * ".eli" a GELI encryption layer, ".nop" a gnop layer.  Anything else
 * after the unit number (a character not in that grammar) is not an md
 * layer we understand, and is not taken for one.
 */
#include <stdbool.h>
#include <string.h>

#include "devstack.h"

#define MD_UNIT_MAX 1000000

static bool
digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Skip one GEOM layer suffix at s; NULL if s does not start with one. */
static const char *
layer(const char *s)
{
	if ((s[0] == 'p' || s[0] == 's') && digit(s[1])) {
		s++;
		while (digit(*s))
			s++;
		return s;
	}
	if (s[0] >= 'a' && s[0] <= 'h' && (s[1] == '\0' || s[1] == '.'))
		return s + 1;
	if (strncmp(s, ".eli", 4) == 0)
		return s + 4;
	if (strncmp(s, ".nop", 4) == 0)
		return s + 4;
	return NULL;
}

int
devstack_md_unit(const char *source)
{
	const char *s = source;
	int unit = 0;

	if (strncmp(s, "/dev/", 5) == 0)
		s += 5;
	if (strncmp(s, "md", 2) != 0 || !digit(s[2]))
		return -1;
	s += 2;
	/* md007 is not a name md(4) gives */
	if (s[0] == '0' && digit(s[1]))
		return -1;
	while (digit(*s)) {
		unit = unit * 10 + (*s - '0');
		if (unit >= MD_UNIT_MAX)
			return -1;
		s++;
	}
	while (*s != '\0')
		if ((s = layer(s)) == NULL)
			return -1;
	return unit;
}
