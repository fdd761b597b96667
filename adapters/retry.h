/*
 * Rolodex adapters - retry timing.
 *
 * Pure functions (no I/O, no clock of their own) so the unit tests can
 * pin them down: exponential backoff with "equal jitter" (half the delay
 * fixed, half random, so a retry is never immediate and a herd of
 * instances spreads out), the Retry-After header of RFC 9110 section
 * 10.2.3 (delay-seconds or an HTTP-date), and a small table that
 * remembers, per pending stream entry, how often it failed and when it
 * is due again.
 */
#ifndef ROLODEX_RETRY_H
#define ROLODEX_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest Retry-After honoured, in milliseconds (one hour). */
#define RETRY_AFTER_MAX_MS	3600000

/*
 * Delay before retry number attempt (1 = first retry): base * 2^(attempt
 * - 1) capped at max, then half of it plus jitter (in [0, 1)) times the
 * other half.  attempt 0 is treated as 1.  Never below 1 ms.
 */
int64_t	 retry_backoff_ms(int64_t base_ms, int64_t max_ms, unsigned attempt,
	    double jitter);

/*
 * Parse a Retry-After value at time now (seconds since the epoch) into
 * milliseconds to wait, capped at RETRY_AFTER_MAX_MS; a date in the past
 * gives 0.  Returns 0, or -1 when v is neither form (then *ms is 0).
 */
int	 retry_after_parse(const char *v, int64_t now, int64_t *ms);

/* One pending entry's history. */
struct retry_slot {
	char			*key;		/* "<stream>/<entry id>" */
	unsigned		 attempts;	/* failed tries so far */
	int64_t			 due_ms;	/* monotonic time of next try */
	bool			 seen;		/* marked during a PEL scan */
	struct retry_slot	*next;
};

struct retry_map {
	struct retry_slot	**bucket;
	size_t			  nbucket;
	size_t			  n;
};

void	 retry_map_init(struct retry_map *);
void	 retry_map_clear(struct retry_map *);
/* The slot of key, or NULL. */
struct retry_slot *retry_map_get(const struct retry_map *, const char *key);
/* The slot of key, created (attempts 0, due 0) when missing. */
struct retry_slot *retry_map_put(struct retry_map *, const char *key);
void	 retry_map_del(struct retry_map *, const char *key);
/* Earliest due time of any slot, or INT64_MAX when empty. */
int64_t	 retry_map_next_due(const struct retry_map *);
/* Clear every seen mark; drop slots not seen since (after a full scan). */
void	 retry_map_unmark(struct retry_map *);
size_t	 retry_map_sweep(struct retry_map *);

#endif
