/*
 * Rolodex - rolodex-relay: the skip set, events already in the stream.
 *
 * A relay that was killed between EXEC and the mark, or whose mark failed,
 * left entries in the stream whose rows are still unpublished; so did a
 * leader that lost its lock at that moment.  Those entries are the ones
 * after the newest entry recorded in relay_stream (recorded in the mark's
 * transaction).  After a Redis data loss the rows of the batch that was
 * cut short are queued again although part of it survived: those
 * survivors are the entries just before the recorded entry.
 *
 * So whenever the relay cannot be sure (start, leadership, reconnect, a
 * failed batch, a replay), it reads, per stream, the relay_batch entries
 * up to the recorded one and up to 4 x relay_batch after it, and keeps
 * their event ids.  A row whose event is in the set is marked published
 * with the id found, not appended again.  The set is dropped when every
 * id in it was met, when a batch comes back short (the queue is empty:
 * nothing unpublished is left to match), or after SKIP_MAX_BATCHES.
 *
 * Invariant: an id enters the set only from an entry read from the
 * stream it names, so skipping never loses an event.  Duplicates remain
 * possible only when a stale leader appends after the set was read; the
 * contract allows them (consumers drop repeated ids).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "relay.h"
#include "uuid.h"
#include "xalloc.h"

#define SKIP_AFTER	4	/* x relay_batch entries after the record */
#define SKIP_MAX_BATCHES 20

struct skipent {
	char		 evid[UUID_STRLEN + 1];
	int64_t		 part;
	struct sid	 at;
	bool		 met;
};

struct skipset {
	struct skipent	*e;
	size_t		 n, cap, left;
	int		 batches;
};

static int
skip_cmp(const void *a, const void *b)
{
	const struct skipent	*x = a, *y = b;
	int			 c = strcmp(x->evid, y->evid);

	if (c != 0)
		return c;
	return x->part < y->part ? -1 : x->part > y->part;
}

/* Add the entries of an XRANGE/XREVRANGE reply of stream part. */
static void
skip_add(struct skipset *s, const redisReply *rep, int64_t part)
{
	struct skipent	*e;
	const char	*evid;
	size_t		 i;

	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
	    i++) {
		evid = relay_entry_field(rep->element[i], "id");
		if (evid == NULL || strlen(evid) != UUID_STRLEN)
			continue;
		if (s->n == s->cap) {
			s->cap = s->cap == 0 ? 256 : s->cap * 2;
			s->e = xreallocarray(s->e, s->cap, sizeof(*s->e));
		}
		e = &s->e[s->n];
		if (relay_sid_parse(rep->element[i]->element[0]->str,
		    &e->at) == -1)
			continue;
		memcpy(e->evid, evid, UUID_STRLEN + 1);
		e->part = part;
		e->met = false;
		s->n++;
	}
}

/* The recorded newest entry of stream p as "ms-seq" into id, or "+". */
static int
skip_record(struct relay *r, int64_t p, char *id, size_t idsz, bool *have)
{
	struct db_rows	 rows;
	struct db_arg	 a = db_str(r->streams[p]);

	if (db_exec(r->db, STMT_RELAY_STREAM_GET, &a, 1, &rows, NULL) !=
	    DB_OK)
		return -1;
	*have = rows.nrows == 1 && strcmp(db_cell(&rows, 0, 0), "0") != 0;
	if (*have)
		snprintf(id, idsz, "%s-%s", db_cell(&rows, 0, 0),
		    db_cell(&rows, 0, 1));
	else
		snprintf(id, idsz, "+");
	db_rows_clear(&rows);
	return 0;
}

/* Read stream p around its record into s. */
static int
skip_stream(struct relay *r, struct skipset *s, int64_t p)
{
	redisReply	*rep;
	char		 id[48];
	bool		 have;

	if (skip_record(r, p, id, sizeof(id), &have) == -1)
		return -1;
	rep = redis_cmdf(&r->redis, "XREVRANGE %s %s - COUNT %lld",
	    r->streams[p], id, (long long)r->conf->relay_batch);
	if (rep == NULL)
		return -1;
	skip_add(s, rep, p);
	freeReplyObject(rep);
	if (!have)
		return 0;
	rep = redis_cmdf(&r->redis, "XRANGE %s (%s + COUNT %lld",
	    r->streams[p], id, (long long)r->conf->relay_batch * SKIP_AFTER);
	if (rep == NULL)
		return -1;
	skip_add(s, rep, p);
	freeReplyObject(rep);
	return 0;
}

int
relay_skip_load(struct relay *r)
{
	struct skipset	*s = xcalloc(1, sizeof(*s));
	int64_t		 p;

	relay_skip_free(r);
	for (p = 0; p < r->nstreams; p++)
		if (skip_stream(r, s, p) == -1) {
			free(s->e);
			free(s);
			return -1;
		}
	/* An empty set has no array: qsort(NULL, 0) is undefined (UBSan). */
	if (s->n > 0)
		qsort(s->e, s->n, sizeof(*s->e), skip_cmp);
	s->left = s->n;
	r->skip = s;
	r->need_skip = false;
	log_debug("skip set: %zu recent entries", s->n);
	return 0;
}

int
relay_skip_find(struct relay *r, const char *evid, int64_t part,
    struct sid *at)
{
	struct skipent	 key, *e;

	if (r->skip == NULL || r->skip->n == 0)
		return -1;
	memcpy(key.evid, evid, UUID_STRLEN + 1);
	key.part = part;
	if ((e = bsearch(&key, r->skip->e, r->skip->n, sizeof(key),
	    skip_cmp)) == NULL)
		return -1;
	if (!e->met) {
		e->met = true;
		r->skip->left--;
	}
	*at = e->at;
	return 0;
}

void
relay_skip_done(struct relay *r, bool drained)
{
	if (r->skip == NULL)
		return;
	if (r->skip->left == 0 || drained ||
	    ++r->skip->batches >= SKIP_MAX_BATCHES)
		relay_skip_free(r);
}

void
relay_skip_free(struct relay *r)
{
	if (r->skip == NULL)
		return;
	free(r->skip->e);
	free(r->skip);
	r->skip = NULL;
}
