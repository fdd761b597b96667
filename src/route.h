/*
 * Rolodex - the API's route table.
 *
 * A request is matched against this table before any handler runs: an
 * unknown path is 404, a known path with a method it does not allow is
 * 405 with Allow.  Each (route, method) pair names the role it needs, so
 * authorisation is decided here too, not inside handlers.
 */
#ifndef ROLODEX_ROUTE_H
#define ROLODEX_ROUTE_H

#include <stddef.h>

enum method {
	M_GET = 1 << 0,
	M_HEAD = 1 << 1,
	M_POST = 1 << 2,
	M_PUT = 1 << 3,
	M_PATCH = 1 << 4,
	M_DELETE = 1 << 5,
	M_OPTIONS = 1 << 6
};

enum route {
	R_HEALTHZ, R_READYZ, R_METRICS, R_OPENAPI, R_DOCS,
	R_LOGIN, R_TOKEN,
	R_PERSONS, R_PERSON, R_ORGS, R_ORG, R_PARTIES, R_PARTY,
	R_ADDRESSES, R_ADDRESS, R_EXTIDS, R_EXTID,
	R_RELS, R_REL, R_PARTY_RELS,
	R__MAX
};

/* What a caller must hold: nothing, or a role bit of auth_jwt.h. */
enum scope { SCOPE_NONE = 0, SCOPE_READ = 1, SCOPE_WRITE = 2,
	SCOPE_ADMIN = 4 };

#define ROUTE_MAX_PARAMS	2
#define ROUTE_PARAM_MAX		256

struct route_match {
	enum route	 route;
	char		 param[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX];
	size_t		 nparam;
};

/* Parse a method name; 0 if unknown. */
int		 method_parse(const char *);
const char	*method_name(int);

/*
 * Match a path (no query string; percent-encoded) against the table.
 * Returns 0 with m filled, or -1 when no route has this path (404), or
 * -2 when a segment does not decode to valid text (400).
 */
int		 route_match(const char *path, struct route_match *m);

/* Methods the route allows (bit set of enum method). */
int		 route_methods(enum route);
/* "GET, HEAD, POST" for an Allow header, into dst. */
void		 route_allow(enum route, char *dst, size_t dsz);
/* Role needed for method on route. */
enum scope	 route_scope(enum route, int method);
/* Whether the route's handler reads query parameters (others refuse). */
int		 route_takes_query(enum route);
/* The route's pattern, e.g. "/persons/{party_id}" (for logs, metrics). */
const char	*route_pattern(enum route);

#endif
