/*
 * Rolodex - rolodex-relay: what Redis lost, trimming, retention.
 *
 * Redis acknowledges an XADD before it is on disk (AOF everysec loses up
 * to a second; an asynchronous replica promoted by a failover loses what
 * it had not received).  What is lost is always a suffix of the writes, so
 * checking the newest entry the relay appended is enough: if it is still
 * there, so is everything before it.  If it is gone, the newest entry that
 * survived is the new end: every batch that reached past it in that
 * stream (relay_batch) goes back to the queue.  The survivors of the
 * batch that was cut short are found by the skip set and marked, not
 * appended, so only the lost entries are appended again: after the
 * survivors, in id order.  Redis never gives a new entry an id below the
 * stream's last one, so batches published after the loss are not taken
 * for lost ones.
 *
 * Published rows are kept [relay] retention seconds for this, then
 * deleted batch by batch; with retention 0 a loss cannot be repaired.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "relay.h"
#include "util.h"
#include "uuid.h"
#include "xalloc.h"

#define REPLAY_CHUNK		100	/* batches per txn */
#define PURGE_BATCHES		1000	/* batches per query */
#define PURGE_ROWS		10000	/* rows per txn */
#define PURGE_BUDGET_MS		500	/* per turn */

int
relay_sid_parse(const char *s, struct sid *id)
{
	char	*end;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	id->ms = strtoull(s, &end, 10);
	if (*end != '-' || end[1] < '0' || end[1] > '9')
		return -1;
	s = end + 1;
	id->seq = strtoull(s, &end, 10);
	return *end != '\0' ? -1 : 0;
}

int
relay_sid_cmp(const struct sid *a, const struct sid *b)
{
	if (a->ms != b->ms)
		return a->ms < b->ms ? -1 : 1;
	if (a->seq != b->seq)
		return a->seq < b->seq ? -1 : 1;
	return 0;
}

const char *
relay_entry_field(const redisReply *e, const char *name)
{
	const redisReply	*f;
	size_t			 i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[1]->type != REDIS_REPLY_ARRAY)
		return NULL;
	f = e->element[1];
	for (i = 0; i + 1 < f->elements; i += 2)
		if (f->element[i]->type == REDIS_REPLY_STRING &&
		    strcmp(f->element[i]->str, name) == 0 &&
		    f->element[i + 1]->type == REDIS_REPLY_STRING)
			return f->element[i + 1]->str;
	return NULL;
}

/* Put the batches listed in rows back on the queue, forget them. */
static enum db_rc
requeue_batches(struct relay *r, const struct db_rows *rows, uint64_t *n)
{
	struct db_arg	 a;
	uint64_t	 k, sum = 0;
	enum db_rc	 rc;
	size_t		 i;

	rc = db_begin(r->db);
	for (i = 0; i < rows->nrows && rc == DB_OK; i++) {
		a = DB_INT(strtoll(db_cell(rows, i, 0), NULL, 10));
		k = 0;
		if ((rc = db_exec(r->db, STMT_RELAY_BATCH_REQUEUE, &a, 1, NULL,
		    &k)) == DB_OK)
			rc = db_exec(r->db, STMT_RELAY_BATCH_DELETE, &a, 1,
			    NULL, NULL);
		sum += k;
	}
	if (rc == DB_OK && (rc = db_commit(r->db)) == DB_OK)
		*n += sum;
	else
		db_rollback(r->db);
	return rc;
}

/*
 * Queue again the rows of every batch of stream p that reached past top
 * (every batch of p when top is NULL).  *total gets the number of rows.
 */
static enum db_rc
replay_rows(struct relay *r, int64_t p, const struct sid *top,
    uint64_t *total)
{
	struct db_rows	 rows;
	struct db_arg	 a[5];
	enum db_rc	 rc;
	size_t		 n;

	a[0] = DB_INT(p);
	a[1] = DB_INT(top == NULL);
	a[2] = DB_INT(top != NULL ? (long long)top->ms : 0);
	a[3] = DB_INT(top != NULL ? (long long)top->seq : 0);
	a[4] = DB_INT(REPLAY_CHUNK);
	*total = 0;
	do {
		if ((rc = db_exec(r->db, STMT_RELAY_BATCH_PAST, a, 5, &rows,
		    NULL)) != DB_OK)
			return rc;
		n = rows.nrows;
		rc = requeue_batches(r, &rows, total);
		db_rows_clear(&rows);
		/* A long replay must not look like a stalled leader. */
		relay_heartbeat(r, false);
	} while (rc == DB_OK && n == REPLAY_CHUNK);
	return rc;
}

/* Record top (or nothing, when the stream is empty) as the newest entry. */
static enum db_rc
replay_reset(struct relay *r, int64_t p, const redisReply *top)
{
	static const unsigned char zero[16];
	struct db_arg	 a[4];
	struct sid	 id = { 0, 0 };
	struct uuid	 u;
	const char	*evid;

	memset(&u, 0, sizeof(u));
	evid = top != NULL ? relay_entry_field(top, "id") : NULL;
	if (top == NULL || relay_sid_parse(top->element[0]->str, &id) == -1 ||
	    evid == NULL || uuid_parse(evid, &u) == -1)
		id.ms = id.seq = 0;
	a[0] = db_str(r->streams[p]);
	a[1] = DB_INT((long long)id.ms);
	a[2] = DB_INT((long long)id.seq);
	a[3] = DB_BIN(id.ms == 0 ? zero : u.b, 16);
	return db_exec(r->db, STMT_RELAY_STREAM_RESET, a, 4, NULL, NULL);
}

/* Entry `lost` of stream p is gone: queue again what followed it. */
static int
replay(struct relay *r, int64_t p, const char *lost)
{
	redisReply	*rep;
	const redisReply *top = NULL;
	struct sid	 topid;
	uint64_t	 n = 0;
	int		 rc = -1;

	rep = redis_cmdf(&r->redis, "XREVRANGE %s + - COUNT 1",
	    r->streams[p]);
	if (rep == NULL)
		return -1;
	if (rep->type != REDIS_REPLY_ARRAY) {
		log_warnx("%s: XREVRANGE %s: %s", __func__, r->streams[p],
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
		goto out;
	}
	if (rep->elements > 0 && (top = rep->element[0])->type ==
	    REDIS_REPLY_ARRAY && top->elements == 2 &&
	    relay_sid_parse(top->element[0]->str, &topid) == -1)
		top = NULL;
	if (replay_rows(r, p, top != NULL ? &topid : NULL, &n) != DB_OK ||
	    replay_reset(r, p, top) != DB_OK)
		goto out;
	/* The survivors of the batch cut short are found, not appended. */
	r->need_skip = true;
	r->st.requeued += n;
	log_warnx("stream %s: entry %s, the newest the relay appended, is "
	    "gone (Redis lost data); %llu rows published after %s queued "
	    "again", r->streams[p], lost, (unsigned long long)n,
	    top != NULL ? top->element[0]->str : "the start of the retention "
	    "window");
	rc = 0;
out:
	freeReplyObject(rep);
	return rc;
}

/* Check stream p's newest recorded entry; replay if it is gone. */
static int
check_stream(struct relay *r, int64_t p)
{
	struct db_rows	 rows;
	struct db_arg	 a = db_str(r->streams[p]);
	struct uuid	 u;
	redisReply	*rep = NULL;
	const char	*evid;
	char		 id[48], want[UUID_STRLEN + 1];
	int		 rc = -1;

	if (db_exec(r->db, STMT_RELAY_STREAM_GET, &a, 1, &rows, NULL) !=
	    DB_OK)
		return -1;
	if (rows.nrows == 0 || (strcmp(db_cell(&rows, 0, 0), "0") == 0 &&
	    strcmp(db_cell(&rows, 0, 1), "0") == 0) ||
	    db_cell_len(&rows, 0, 2) != 16) {
		rc = 0;
		goto out;
	}
	snprintf(id, sizeof(id), "%s-%s", db_cell(&rows, 0, 0),
	    db_cell(&rows, 0, 1));
	memcpy(u.b, db_cell(&rows, 0, 2), 16);
	uuid_fmt(&u, want);
	if ((rep = redis_cmdf(&r->redis, "XRANGE %s %s %s", r->streams[p],
	    id, id)) == NULL)
		goto out;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    (evid = relay_entry_field(rep->element[0], "id")) != NULL &&
	    strcmp(evid, want) == 0) {
		log_debug("stream %s: newest entry %s is there",
		    r->streams[p], id);
		rc = 0;
	} else if (rep->type == REDIS_REPLY_ARRAY)
		rc = replay(r, p, id);
	else
		log_warnx("%s: XRANGE %s: %s", __func__, r->streams[p],
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
out:
	if (rep != NULL)
		freeReplyObject(rep);
	db_rows_clear(&rows);
	return rc;
}

int
relay_verify_streams(struct relay *r)
{
	int64_t	 p;

	for (p = 0; p < r->nstreams; p++)
		if (check_stream(r, p) == -1)
			return -1;
	r->verify_connects = r->redis.connects;
	r->need_verify = false;
	return 0;
}

/*
 * The MINID for stream s: [relay] trim_minid_age before Redis's clock,
 * but never past what a consumer group has not been delivered or has
 * not acknowledged.  0 with *cut set; -1 on failure or no stream.
 */
static int
trim_minid(struct relay *r, const char *s, struct sid *cut)
{
	redisReply	*t, *g, *pend;
	struct sid	 id;
	size_t		 i, j;
	const redisReply *grp;
	const char	*name, *last;
	long long	 pending;

	if ((t = redis_cmdf(&r->redis, "TIME")) == NULL)
		return -1;
	cut->ms = t->type == REDIS_REPLY_ARRAY && t->elements == 2 ?
	    strtoull(t->element[0]->str, NULL, 10) * 1000 : 0;
	freeReplyObject(t);
	if (cut->ms <= (unsigned long long)r->conf->relay_trim_minid_age *
	    1000)
		return -1;
	cut->ms -= (unsigned long long)r->conf->relay_trim_minid_age * 1000;
	cut->seq = 0;
	if ((g = redis_cmdf(&r->redis, "XINFO GROUPS %s", s)) == NULL)
		return -1;
	for (i = 0; g->type == REDIS_REPLY_ARRAY && i < g->elements; i++) {
		grp = g->element[i];
		name = last = NULL;
		pending = 0;
		for (j = 0; grp->type == REDIS_REPLY_ARRAY &&
		    j + 1 < grp->elements; j += 2) {
			if (strcmp(grp->element[j]->str, "name") == 0)
				name = grp->element[j + 1]->str;
			else if (strcmp(grp->element[j]->str,
			    "last-delivered-id") == 0)
				last = grp->element[j + 1]->str;
			else if (strcmp(grp->element[j]->str, "pending") == 0)
				pending = grp->element[j + 1]->integer;
		}
		if (relay_sid_parse(last, &id) == 0 &&
		    relay_sid_cmp(&id, cut) < 0)
			*cut = id;
		if (pending == 0 || name == NULL)
			continue;
		pend = redis_cmdf(&r->redis, "XPENDING %s %s", s, name);
		if (pend == NULL)
			break;
		if (pend->type == REDIS_REPLY_ARRAY && pend->elements >= 2 &&
		    pend->element[1]->type == REDIS_REPLY_STRING &&
		    relay_sid_parse(pend->element[1]->str, &id) == 0 &&
		    relay_sid_cmp(&id, cut) < 0)
			*cut = id;
		freeReplyObject(pend);
	}
	i = g->type == REDIS_REPLY_ARRAY;
	freeReplyObject(g);
	return i ? 0 : -1;
}

int
relay_trim(struct relay *r)
{
	const char	*mode = r->conf->relay_trim;
	redisReply	*rep;
	struct sid	 cut;
	char		 arg[48];
	int64_t		 p;

	if (strcmp(mode, "none") == 0)
		return 0;
	for (p = 0; p < r->nstreams; p++) {
		if (strcmp(mode, "maxlen") == 0)
			snprintf(arg, sizeof(arg), "%lld",
			    (long long)r->conf->relay_trim_maxlen);
		else if (trim_minid(r, r->streams[p], &cut) == 0)
			snprintf(arg, sizeof(arg), "%llu-%llu", cut.ms,
			    cut.seq);
		else if (r->redis.c == NULL)
			return -1;
		else
			continue;
		/* MAXLEN approximate (whole nodes: cheap), MINID exact. */
		rep = redis_cmdf(&r->redis, "XTRIM %s %s %s %s", r->streams[p],
		    strcmp(mode, "maxlen") == 0 ? "MAXLEN" : "MINID",
		    strcmp(mode, "maxlen") == 0 ? "~" : "=", arg);
		if (rep == NULL)
			return -1;
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
			log_debug("stream %s: trimmed %lld entries (%s %s)",
			    r->streams[p], rep->integer, mode, arg);
		freeReplyObject(rep);
	}
	return 0;
}

/* Purge the batches rows [0, k] of old name; one transaction. */
static int
purge_range(struct relay *r, const struct db_rows *old, size_t k,
    uint64_t *n)
{
	struct db_arg	 a[3];
	enum db_rc	 rc;

	a[0] = DB_INT(strtoll(db_cell(old, 0, 0), NULL, 10));
	a[1] = DB_INT(strtoll(db_cell(old, k, 0), NULL, 10));
	a[2] = db_str(db_cell(old, 0, 2));
	if ((rc = db_begin(r->db)) == DB_OK &&
	    (rc = db_exec(r->db, STMT_OUTBOX_PURGE_BATCH, a, 3, NULL, n)) ==
	    DB_OK &&
	    (rc = db_exec(r->db, STMT_RELAY_BATCH_PURGE, a, 3, NULL, NULL)) ==
	    DB_OK)
		rc = db_commit(r->db);
	if (rc != DB_OK)
		db_rollback(r->db);
	return rc == DB_OK ? 0 : -1;
}

bool
relay_purge(struct relay *r)
{
	struct db_rows	 old;
	struct db_arg	 a[3];
	uint64_t	 n, total = 0;
	int64_t		 t0 = time_mono_ms(), rows;
	size_t		 k;
	bool		 more = false;

	a[0] = DB_INT(r->conf->relay_retention);
	a[1] = DB_INT(r->conf->relay_retention);
	a[2] = DB_INT(PURGE_BATCHES);
	for (;;) {
		if (time_mono_ms() - t0 >= PURGE_BUDGET_MS) {
			more = true;
			break;
		}
		if (db_exec(r->db, STMT_RELAY_BATCH_OLD, a, 3, &old, NULL) !=
		    DB_OK)
			break;
		/* Up to PURGE_ROWS rows (at least one batch) per txn. */
		for (k = 0, rows = 0; k + 1 < old.nrows; k++)
			if ((rows += strtoll(db_cell(&old, k + 1, 1), NULL,
			    10)) > PURGE_ROWS)
				break;
		n = 0;
		if (old.nrows == 0 || purge_range(r, &old, k, &n) == -1) {
			db_rows_clear(&old);
			break;
		}
		total += n;
		db_rows_clear(&old);
	}
	if (total > 0)
		log_debug("outbox: purged %llu published rows",
		    (unsigned long long)total);
	return more;
}
