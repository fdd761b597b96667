/*
 * Fuzz target: what arrives in a request line: the path, the query
 * string and list cursors.
 *
 * The first input byte picks a path:
 *   0  the rest is a query string (or a token request body) for
 *      form_parse(); every decoded key and value must be valid UTF-8
 *      without NUL bytes;
 *   1  the rest is a request path for route_match(); a match must have
 *      NUL-terminated parameters;
 *   2  the rest is a cursor for cursor_decode(); a decoded cursor must
 *      encode and decode back to the same position.
 * Invariant: no crash, no leak, no undefined behaviour.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "log.h"
#include "query.h"
#include "route.h"
#include "valid.h"
#include "xalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 0);
	return 0;
}

static void
query(const char *s)
{
	struct qparam	 q[16];
	const char	*why = NULL;
	size_t		 n = 0, i;

	memset(q, 0, sizeof(q));
	if (form_parse(s, q, &n, 16, &why) == -1 && why == NULL)
		abort();
	for (i = 0; i < n; i++)
		if ((q[i].key != NULL &&
		    !valid_utf8(q[i].key, strlen(q[i].key))) ||
		    (q[i].val != NULL &&
		    !valid_utf8(q[i].val, strlen(q[i].val))))
			abort();
	qparam_free(q, n);
}

static void
path(const char *s)
{
	struct route_match	 m;
	char			 allow[128];
	size_t			 i;

	if (route_match(s, &m) != 0)
		return;
	if (m.nparam > ROUTE_MAX_PARAMS)
		abort();
	for (i = 0; i < m.nparam; i++)
		if (memchr(m.param[i], '\0', ROUTE_PARAM_MAX) == NULL)
			abort();
	route_allow(m.route, allow, sizeof(allow));
	(void)route_scope(m.route, M_GET);
}

static void
cursor(const char *s)
{
	struct cursor	 a, b;
	char		*enc;

	if (cursor_decode(s, &a) == -1)
		return;
	enc = cursor_encode(&a);
	if (cursor_decode(enc, &b) == -1 || a.kind != b.kind ||
	    memcmp(a.id.b, b.id.b, sizeof(a.id.b)) != 0 ||
	    strcmp(a.key, b.key) != 0)
		abort();
	free(enc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size == 0)
		return 0;
	s = xstrndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		query(s);
		break;
	case 1:
		path(s);
		break;
	default:
		cursor(s);
		break;
	}
	free(s);
	return 0;
}
