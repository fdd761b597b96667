/*
 * Rolodex - application/x-www-form-urlencoded parsing (query strings and
 * OAuth token request bodies).
 *
 * Pure functions with no I/O, kept in the core library so that the API,
 * the unit tests and the fuzz targets share one implementation.  A
 * decoded component is always valid UTF-8 without embedded NUL bytes;
 * anything else is refused, never repaired.
 */
#ifndef ROLODEX_QUERY_H
#define ROLODEX_QUERY_H

#include <stddef.h>

struct qparam {
	char	*key;
	char	*val;
};

/*
 * Decode one form-encoded component of len bytes ('+' is a space, %XX a
 * byte).  Returns a new string (free()), or NULL when a percent escape is
 * malformed or the result has a NUL byte or is not UTF-8.
 */
char	*form_decode(const char *, size_t len);

/*
 * Split a NUL-terminated form-encoded string at '&' into q[*nq...],
 * at most max pairs; a pair without '=' gets the value "".  Empty pairs
 * are skipped.  Returns 0, or -1 with a static reason in *why (too many
 * pairs, malformed encoding).  Either way the strings stored in q up to
 * *nq are owned by the caller (a failed pair may have one of key or val
 * NULL); release them with qparam_free().
 */
int	 form_parse(const char *, struct qparam *q, size_t *nq, size_t max,
	    const char **why);

/* Free the n pairs of q (NULL members allowed) and zero them. */
void	 qparam_free(struct qparam *q, size_t n);

#endif
