/*
 * Rolodex - the route table (see route.h).
 *
 * Patterns are literal segments and "{name}" parameters; a parameter
 * matches one non-empty segment, percent-decoded.  Reads need the reader
 * role, writes the writer role.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "util.h"
#include "valid.h"

#define RW	(M_GET | M_HEAD | M_PUT | M_PATCH | M_DELETE)

static const struct {
	const char	*pattern;
	int		 methods;
} routes[R__MAX] = {
	[R_HEALTHZ] = { "/healthz", M_GET | M_HEAD },
	[R_READYZ] = { "/readyz", M_GET | M_HEAD },
	[R_METRICS] = { "/metrics", M_GET | M_HEAD },
	[R_OPENAPI] = { "/openapi.json", M_GET | M_HEAD },
	[R_DOCS] = { "/docs", M_GET | M_HEAD },
	[R_LOGIN] = { "/auth/login", M_POST },
	[R_TOKEN] = { "/auth/token", M_POST },
	[R_PERSONS] = { "/persons", M_GET | M_HEAD | M_POST },
	[R_PERSON] = { "/persons/{party_id}", RW },
	[R_ORGS] = { "/organisations", M_GET | M_HEAD | M_POST },
	[R_ORG] = { "/organisations/{party_id}", RW },
	[R_PARTIES] = { "/parties", M_GET | M_HEAD },
	[R_PARTY] = { "/parties/{party_id}", M_GET | M_HEAD },
	[R_ADDRESSES] = { "/parties/{party_id}/addresses",
	    M_GET | M_HEAD | M_POST },
	[R_ADDRESS] = { "/parties/{party_id}/addresses/{address_id}",
	    M_GET | M_HEAD | M_PUT | M_DELETE },
	[R_EXTIDS] = { "/parties/{party_id}/external-identifiers",
	    M_GET | M_HEAD },
	[R_EXTID] = { "/parties/{party_id}/external-identifiers/"
	    "{system_name}", M_GET | M_HEAD | M_PUT | M_DELETE },
	[R_RELS] = { "/relationships", M_POST },
	[R_REL] = { "/relationships/{relationship_id}", RW },
	[R_PARTY_RELS] = { "/parties/{party_id}/relationships",
	    M_GET | M_HEAD },
};

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
};

int
method_parse(const char *s)
{
	size_t	 i;

	for (i = 0; method_names[i] != NULL; i++)
		if (strcmp(s, method_names[i]) == 0)
			return 1 << i;
	return 0;
}

const char *
method_name(int m)
{
	size_t	 i;

	for (i = 0; method_names[i] != NULL; i++)
		if (m == 1 << i)
			return method_names[i];
	return "?";
}

/* Percent-decode [s, s+len) into dst; -1 if malformed or too long. */
static int
seg_decode(const char *s, size_t len, char *dst, size_t dsz)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (o + 1 >= dsz)
			return -1;
		if (s[i] != '%') {
			dst[o++] = s[i];
			continue;
		}
		if (i + 2 >= len)
			return -1;
		if ((hi = hex_digit(s[i + 1])) < 0 || (lo = hex_digit(s[i + 2])) < 0)
			return -1;
		dst[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dst[o] = '\0';
	if (o == 0 || strlen(dst) != o || !valid_utf8(dst, o))
		return -1;
	return 0;
}

/* Match path against one pattern. 0 match, -1 no, -2 bad segment. */
static int
match_one(const char *pat, const char *path, struct route_match *m)
{
	const char	*pe, *se;
	size_t		 plen, slen;

	m->nparam = 0;
	while (*pat == '/' && *path == '/') {
		pat++;
		path++;
		pe = strchr(pat, '/');
		se = strchr(path, '/');
		plen = pe != NULL ? (size_t)(pe - pat) : strlen(pat);
		slen = se != NULL ? (size_t)(se - path) : strlen(path);
		if (plen > 0 && pat[0] == '{') {
			if (slen == 0 || m->nparam == ROUTE_MAX_PARAMS)
				return -1;
			if (seg_decode(path, slen, m->param[m->nparam],
			    ROUTE_PARAM_MAX) == -1)
				return -2;
			m->nparam++;
		} else if (plen != slen || strncmp(pat, path, plen) != 0)
			return -1;
		pat += plen;
		path += slen;
	}
	return *pat == '\0' && *path == '\0' ? 0 : -1;
}

int
route_match(const char *path, struct route_match *m)
{
	size_t	 i;
	int	 rc, bad = 0;

	m->route = R__MAX;
	for (i = 0; i < R__MAX; i++) {
		rc = match_one(routes[i].pattern, path, m);
		if (rc == 0) {
			m->route = (enum route)i;
			return 0;
		}
		if (rc == -2)
			bad = 1;
	}
	return bad ? -2 : -1;
}

int
route_methods(enum route r)
{
	if (r >= R__MAX)
		abort();
	return routes[r].methods;
}

void
route_allow(enum route r, char *dst, size_t dsz)
{
	size_t	 i, o = 0;
	int	 n;

	dst[0] = '\0';
	for (i = 0; method_names[i] != NULL; i++) {
		if (!(routes[r].methods & (1 << i)))
			continue;
		n = snprintf(dst + o, dsz - o, "%s%s", o > 0 ? ", " : "",
		    method_names[i]);
		if (n < 0 || (size_t)n >= dsz - o)
			return;
		o += (size_t)n;
	}
}

enum scope
route_scope(enum route r, int method)
{
	switch (r) {
	case R_HEALTHZ:
	case R_READYZ:
	case R_METRICS:
	case R_OPENAPI:
	case R_DOCS:
	case R_LOGIN:
	case R_TOKEN:
		return SCOPE_NONE;
	default:
		return (method & (M_GET | M_HEAD)) ? SCOPE_READ : SCOPE_WRITE;
	}
}

int
route_takes_query(enum route r)
{
	switch (r) {
	case R_PERSONS:
	case R_PERSON:
	case R_ORGS:
	case R_ORG:
	case R_PARTIES:
	case R_PARTY:
	case R_PARTY_RELS:
		return 1;
	default:
		return 0;
	}
}

const char *
route_pattern(enum route r)
{
	if (r >= R__MAX)
		abort();
	return routes[r].pattern;
}
