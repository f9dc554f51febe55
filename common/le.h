/*
 * le.h: little-endian fields of the host's messages at any byte offset.
 * <endian.h> does the byte order (POSIX.1-2024; glibc, musl and FreeBSD
 * have it); memcpy does the unaligned access, as a field may sit at any
 * offset of a packet.
 */
#ifndef LE_H
#define LE_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint16_t
get_le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return le16toh(v);
}

static inline uint32_t
get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline void
put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, sizeof(v));
}

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

#endif
