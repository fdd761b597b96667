/*
 * Rolodex - allocation helpers that abort on exhaustion (see xalloc.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

static void
oom(size_t sz)
{
	log_warnx("out of memory allocating %zu bytes", sz);
	abort();
}

void *
xmalloc(size_t sz)
{
	void	*p;

	if ((p = malloc(sz == 0 ? 1 : sz)) == NULL)
		oom(sz);
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, sz == 0 ? 1 : sz)) == NULL)
		oom(n * sz);
	return p;
}

void *
xrealloc(void *p, size_t sz)
{
	void	*np;

	if ((np = realloc(p, sz == 0 ? 1 : sz)) == NULL)
		oom(sz);
	return np;
}

void *
xreallocarray(void *p, size_t n, size_t sz)
{
	if (sz != 0 && n > SIZE_MAX / sz)
		oom(SIZE_MAX);
	return xrealloc(p, n * sz);
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		oom(strlen(s) + 1);
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	if ((p = strndup(s, n)) == NULL)
		oom(n + 1);
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom(0);
	return p;
}
