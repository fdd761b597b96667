/*
 * Rolodex - opaque list cursors.
 *
 * A cursor names the last row of the page before, by the list's sort
 * key, so the next page starts strictly after it: rows inserted or
 * deleted between pages neither shift nor repeat the rows that follow.
 * Lists sort by id, by (display_name, id) for name-prefix searches, or
 * by (updated_at, id) for incremental sync; the cursor records which,
 * and a cursor of one order is refused by a list of another.  Clients
 * must treat cursors as opaque; the first byte is a format version.
 */
#ifndef ROLODEX_CURSOR_H
#define ROLODEX_CURSOR_H

#include "uuid.h"

#define CURSOR_KEY_MAX	1280

enum cursor_kind { CURSOR_ID, CURSOR_NAME, CURSOR_UPDATED };

struct cursor {
	enum cursor_kind kind;
	struct uuid	 id;
	char		 key[CURSOR_KEY_MAX];	/* name or time; "" for ID */
};

/* A new base64url string for the position c; free() it. */
char	*cursor_encode(const struct cursor *);
/* Decode a cursor from a client; 0 ok, -1 malformed. */
int	 cursor_decode(const char *, struct cursor *);

#endif
