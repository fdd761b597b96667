/*
 * Rolodex - allocation helpers.
 *
 * Rolodex is application code: running out of memory is not a condition it
 * tries to survive.  Every x* function logs the size it wanted and aborts;
 * callers never check for NULL.  The API master restarts a dead worker and
 * the daemons are at-least-once, so an abort loses nothing committed.
 */
#ifndef ROLODEX_XALLOC_H
#define ROLODEX_XALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...)
	    __attribute__((format(printf, 1, 2)));

#endif
