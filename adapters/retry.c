/*
 * Rolodex adapters - retry timing (see retry.h).
 *
 * The retry map is a chained hash table keyed by "<stream>/<entry id>".
 * It only holds this consumer's pending entries that failed at least
 * once, so it stays as small as the consumer's share of the PEL.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "retry.h"
#include "util.h"
#include "xalloc.h"

int64_t
retry_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt,
    double jitter)
{
	int64_t	 d = base_ms < 1 ? 1 : base_ms;
	unsigned i;

	if (max_ms < d)
		max_ms = d;
	for (i = 1; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (jitter < 0.0)
		jitter = 0.0;
	if (jitter >= 1.0)
		jitter = 0.999999;
	d = d / 2 + (int64_t)((double)(d - d / 2) * jitter);
	return d < 1 ? 1 : d;
}

int
retry_after_parse(const char *v, int64_t now, int64_t *ms)
{
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT",	/* IMF-fixdate */
		"%A, %d-%b-%y %H:%M:%S GMT",	/* obsolete RFC 850 */
		"%a %b %e %H:%M:%S %Y",		/* asctime */
	};
	struct tm	 tm;
	const char	*end;
	int64_t		 secs, t;
	char		 tmp[8];
	size_t		 i, n;

	*ms = 0;
	if (v == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		/* delay-seconds: 1*DIGIT; huge values saturate. */
		for (end = v; isdigit((unsigned char)*end); end++)
			continue;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			return -1;
		n = strspn(v, "0123456789");
		if (n > 7)
			secs = RETRY_AFTER_MAX_MS / 1000;
		else {
			memcpy(tmp, v, n);
			tmp[n] = '\0';
			if (parse_int64(tmp, 0, 9999999, &secs) == -1)
				return -1;
		}
		*ms = secs * 1000 > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS :
		    secs * 1000;
		return 0;
	}
	for (i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		memset(&tm, 0, sizeof(tm));
		end = strptime(v, fmts[i], &tm);
		if (end == NULL)
			continue;
		while (*end == ' ' || *end == '\t')
			end++;
		if (*end != '\0')
			continue;
		t = (int64_t)timegm(&tm);
		if (t <= now)
			return 0;
		*ms = (t - now) * 1000 > RETRY_AFTER_MAX_MS ?
		    RETRY_AFTER_MAX_MS : (t - now) * 1000;
		return 0;
	}
	return -1;
}

static size_t
retry_hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

void
retry_map_init(struct retry_map *m)
{
	m->nbucket = 256;
	m->bucket = xcalloc(m->nbucket, sizeof(*m->bucket));
	m->n = 0;
}

void
retry_map_clear(struct retry_map *m)
{
	struct retry_slot	*s, *nx;
	size_t			 i;

	for (i = 0; i < m->nbucket; i++)
		for (s = m->bucket[i]; s != NULL; s = nx) {
			nx = s->next;
			free(s->key);
			free(s);
		}
	free(m->bucket);
	memset(m, 0, sizeof(*m));
}

struct retry_slot *
retry_map_get(const struct retry_map *m, const char *key)
{
	struct retry_slot	*s;

	for (s = m->bucket[retry_hash(key) % m->nbucket]; s != NULL;
	    s = s->next)
		if (strcmp(s->key, key) == 0)
			return s;
	return NULL;
}

/* Double the bucket array once the load factor passes 2. */
static void
retry_map_grow(struct retry_map *m)
{
	struct retry_slot	**nb, *s, *nx;
	size_t			  i, n = m->nbucket * 2, h;

	nb = xcalloc(n, sizeof(*nb));
	for (i = 0; i < m->nbucket; i++)
		for (s = m->bucket[i]; s != NULL; s = nx) {
			nx = s->next;
			h = retry_hash(s->key) % n;
			s->next = nb[h];
			nb[h] = s;
		}
	free(m->bucket);
	m->bucket = nb;
	m->nbucket = n;
}

struct retry_slot *
retry_map_put(struct retry_map *m, const char *key)
{
	struct retry_slot	*s;
	size_t			 h;

	if ((s = retry_map_get(m, key)) != NULL)
		return s;
	if (m->n >= m->nbucket * 2)
		retry_map_grow(m);
	s = xcalloc(1, sizeof(*s));
	s->key = xstrdup(key);
	h = retry_hash(key) % m->nbucket;
	s->next = m->bucket[h];
	m->bucket[h] = s;
	m->n++;
	return s;
}

void
retry_map_del(struct retry_map *m, const char *key)
{
	struct retry_slot	**pp, *s;

	for (pp = &m->bucket[retry_hash(key) % m->nbucket]; *pp != NULL;
	    pp = &(*pp)->next)
		if (strcmp((*pp)->key, key) == 0) {
			s = *pp;
			*pp = s->next;
			free(s->key);
			free(s);
			m->n--;
			return;
		}
}

int64_t
retry_map_next_due(const struct retry_map *m)
{
	struct retry_slot	*s;
	int64_t			 due = INT64_MAX;
	size_t			 i;

	for (i = 0; i < m->nbucket; i++)
		for (s = m->bucket[i]; s != NULL; s = s->next)
			if (s->due_ms < due)
				due = s->due_ms;
	return due;
}

void
retry_map_unmark(struct retry_map *m)
{
	struct retry_slot	*s;
	size_t			 i;

	for (i = 0; i < m->nbucket; i++)
		for (s = m->bucket[i]; s != NULL; s = s->next)
			s->seen = false;
}

size_t
retry_map_sweep(struct retry_map *m)
{
	struct retry_slot	**pp, *s;
	size_t			  i, n = 0;

	for (i = 0; i < m->nbucket; i++) {
		pp = &m->bucket[i];
		while ((s = *pp) != NULL) {
			if (s->seen) {
				pp = &s->next;
				continue;
			}
			*pp = s->next;
			free(s->key);
			free(s);
			m->n--;
			n++;
		}
	}
	return n;
}
