/*
 * Rolodex - opaque list cursors.
 *
 * A cursor names the last row of the page before, so the next page starts
 * strictly after it: rows inserted or deleted between pages neither shift
 * nor repeat the rows that follow.  Clients must treat cursors as opaque;
 * the first byte is a format version so the encoding can change.
 */
#ifndef ROLODEX_CURSOR_H
#define ROLODEX_CURSOR_H

#include "uuid.h"

/* A new base64url string for the position after id; free() it. */
char	*cursor_encode(const struct uuid *after);
/* Decode a cursor from a client; 0 ok, -1 malformed. */
int	 cursor_decode(const char *, struct uuid *after);

#endif
