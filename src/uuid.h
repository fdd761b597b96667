/*
 * Rolodex - identifiers.
 *
 * Every id the server assigns is a UUID version 7 (RFC 9562): 48 bits of
 * Unix milliseconds, then random bits, so ids sort by creation time and
 * B-tree inserts stay at the right edge.  In the database an id is a
 * BINARY(16); on the wire it is the canonical lower-case 36-char form.
 */
#ifndef ROLODEX_UUID_H
#define ROLODEX_UUID_H

#include <stdbool.h>

#define UUID_STRLEN	36

struct uuid {
	unsigned char	b[16];
};

/* A new UUIDv7; aborts if the system RNG fails. */
void	uuid_v7(struct uuid *);

/* Canonical text form into dst[UUID_STRLEN + 1]. */
void	uuid_fmt(const struct uuid *, char *dst);

/* Parse the canonical form (either case); 0 ok, -1 malformed. */
int	uuid_parse(const char *, struct uuid *);

#endif
