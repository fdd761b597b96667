/*
 * Rolodex - rolodex-relay: publishing one batch (see relay.h).
 *
 * A batch is the oldest unpublished outbox rows in id order (the queue,
 * sql/0003; no watermark).  Its entries go to Redis as MULTI, one XADD
 * per row in id order, EXEC, written in one go: Redis runs them all or
 * (out of memory, for instance) none, and a per-command error stops the
 * batch at that row.  The rows before the first failure are then marked
 * published, in one transaction that takes them off the queue, records
 * the batch (its rows and the newest stream id it reached, relay_batch)
 * and per stream the newest entry appended (relay_stream).  One round
 * trip to Redis and six to the database per batch, whatever its size.
 *
 * After a start, a failover or any failure the relay cannot know whether
 * its last entries reached Redis; until that is settled a skip set
 * (relay_skip.c) names the events already in the stream, and those rows
 * are marked without being appended again.
 *
 * Invariant: a row is marked published only after Redis answered that its
 * entry is in the stream (appended now, or found there).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "relay.h"
#include "util.h"
#include "uuid.h"
#include "xalloc.h"

/* Columns of STMT_OUTBOX_BATCH. */
enum obcol {
	OB_ID, OB_EVID, OB_TYPE, OB_AGGTYPE, OB_AGGID, OB_VERSION, OB_TIME,
	OB_PAYLOAD, OB_TRACE, OB__MAX
};

/* XADD, key, "*", then 10 CloudEvents field/value pairs, 11 with
 * traceparent. */
#define PUB_ARGS_MAX	(3 + 2 * 11)

struct pubrow {
	char		 evid[UUID_STRLEN + 1];
	char		 subject[UUID_STRLEN + 1];
	int64_t		 part;
	bool		 skip;		/* already in the stream */
	struct sid	 found;		/* where, when skip */
};

/* Newest stream id of this batch in one stream, and its event. */
struct ckpt {
	bool		 set;
	struct sid	 id;
	unsigned char	 evid[16];
};

struct pubbuf {
	struct pubrow	*rows;
	size_t		 nrows;
	struct ckpt	*ck;
	char		*json;
	size_t		 jsonsz;
};

void
relay_pub_free(struct relay *r)
{
	if (r->pb == NULL)
		return;
	free(r->pb->rows);
	free(r->pb->ck);
	free(r->pb->json);
	free(r->pb);
	r->pb = NULL;
}

/* Make room for n rows; buffers only grow. */
static struct pubbuf *
pub_buf(struct relay *r, size_t n)
{
	struct pubbuf	*pb = r->pb;

	if (pb == NULL) {
		pb = r->pb = xcalloc(1, sizeof(*pb));
		pb->ck = xcalloc((size_t)r->nstreams, sizeof(*pb->ck));
	}
	if (n > pb->nrows) {
		pb->rows = xreallocarray(pb->rows, n, sizeof(*pb->rows));
		pb->nrows = n;
	}
	memset(pb->ck, 0, sizeof(*pb->ck) * (size_t)r->nstreams);
	return pb;
}

/* The from party named in a relationship payload; 0 found, -1 not. */
static int
pub_from_party(const char *payload, size_t len, struct uuid *out)
{
	json_object	*o, *v;
	char		 err[128];
	int		 rc = -1;

	if ((o = jsonx_parse(payload, len, err, sizeof(err))) == NULL)
		return -1;
	if (json_object_object_get_ex(o, "from_party_id", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    uuid_parse(json_object_get_string(v), out) == 0)
		rc = 0;
	json_object_put(o);
	return rc;
}

/*
 * The owning party of row i: the party itself, or the from party of a
 * relationship (a Deleted event does not name it: an earlier version's
 * row does, while it is retained).  DB_OK or the database failure.
 */
static enum db_rc
pub_owner(struct relay *r, const struct db_rows *rows, size_t i,
    struct uuid *owner)
{
	struct db_rows	 prev;
	struct db_arg	 a[2];
	enum db_rc	 rc;

	memcpy(owner->b, db_cell(rows, i, OB_AGGID), 16);
	if (strcmp(db_cell(rows, i, OB_AGGTYPE), "relationship") != 0 ||
	    pub_from_party(db_cell(rows, i, OB_PAYLOAD),
	    db_cell_len(rows, i, OB_PAYLOAD), owner) == 0)
		return DB_OK;
	a[0] = DB_BIN(db_cell(rows, i, OB_AGGID), 16);
	a[1] = DB_INT(strtoll(db_cell(rows, i, OB_VERSION), NULL, 10));
	if ((rc = db_exec(r->db, STMT_OUTBOX_REL_OWNER, a, 2, &prev,
	    NULL)) != DB_OK)
		return rc;
	if (prev.nrows == 0 || pub_from_party(db_cell(&prev, 0, 0),
	    db_cell_len(&prev, 0, 0), owner) == -1)
		log_info("relationship %s: from party unknown (earlier "
		    "versions purged); partitioned by its own id",
		    r->pb->rows[i].subject);
	db_rows_clear(&prev);
	return DB_OK;
}

/* Stream of row i: bytes 8..15 of the owner, big-endian, mod N. */
static enum db_rc
pub_partition(struct relay *r, const struct db_rows *rows, size_t i,
    int64_t *part)
{
	struct uuid	 owner;
	uint64_t	 v = 0;
	enum db_rc	 rc;
	int		 j;

	*part = 0;
	if (r->nstreams == 1)
		return DB_OK;
	if ((rc = pub_owner(r, rows, i, &owner)) != DB_OK)
		return rc;
	for (j = 8; j < 16; j++)
		v = v << 8 | owner.b[j];
	*part = (int64_t)(v % (uint64_t)r->nstreams);
	return DB_OK;
}

/* Ids, stream and skip flag of every row. */
static enum pub_rc
pub_prepare(struct relay *r, const struct db_rows *rows)
{
	struct pubbuf	*pb = pub_buf(r, rows->nrows);
	struct pubrow	*pr;
	struct uuid	 u;
	size_t		 i;

	for (i = 0; i < rows->nrows; i++) {
		pr = &pb->rows[i];
		if (db_cell_len(rows, i, OB_EVID) != 16 ||
		    db_cell_len(rows, i, OB_AGGID) != 16)
			fatalx("%s: outbox row %s: malformed ids", __func__,
			    db_cell(rows, i, OB_ID));
		memcpy(u.b, db_cell(rows, i, OB_EVID), 16);
		uuid_fmt(&u, pr->evid);
		memcpy(u.b, db_cell(rows, i, OB_AGGID), 16);
		uuid_fmt(&u, pr->subject);
		if (pub_partition(r, rows, i, &pr->part) != DB_OK)
			return PUB_DB;
		pr->skip = relay_skip_find(r, pr->evid, pr->part,
		    &pr->found) == 0;
	}
	return PUB_OK;
}

#define ARG(s, l)	do { av[n] = (s); al[n] = (l); n++; } while (0)
#define ARGS(s)		ARG((s), strlen(s))

/* Queue the XADD of row i. */
static int
pub_xadd(struct relay *r, const struct db_rows *rows, size_t i)
{
	const struct pubrow *pr = &r->pb->rows[i];
	const char	*av[PUB_ARGS_MAX], *tp = db_cell(rows, i, OB_TRACE);
	size_t		 al[PUB_ARGS_MAX], n = 0;

	ARGS("XADD");
	ARGS(r->streams[pr->part]);
	ARGS("*");
	ARGS("id");
	ARGS(pr->evid);
	ARGS("type");
	ARGS(db_cell(rows, i, OB_TYPE));
	ARGS("source");
	ARGS(r->conf->ev_source);
	ARGS("specversion");
	ARGS("1.0");
	ARGS("subject");
	ARGS(pr->subject);
	ARGS("aggregate_type");
	ARGS(db_cell(rows, i, OB_AGGTYPE));
	ARGS("aggregate_version");
	ARGS(db_cell(rows, i, OB_VERSION));
	ARGS("time");
	ARGS(db_cell(rows, i, OB_TIME));
	ARGS("datacontenttype");
	ARGS("application/json");
	ARGS("data");
	ARG(db_cell(rows, i, OB_PAYLOAD), db_cell_len(rows, i, OB_PAYLOAD));
	if (tp != NULL) {
		ARGS("traceparent");
		ARGS(tp);
	}
	return redis_append(&r->redis, (int)n, av, al);
}

/*
 * Send MULTI, the XADDs of the rows not skipped, EXEC; *nx gets how many
 * XADDs.  The EXEC reply (an array, one reply per XADD) into *out.
 */
static enum pub_rc
pub_send(struct relay *r, const struct db_rows *rows, size_t *nx,
    redisReply **out)
{
	static const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	redisReply	**rep;
	enum pub_rc	 rc = PUB_REDIS;
	size_t		 i, n = 0;

	*out = NULL;
	for (i = 0; i < rows->nrows; i++)
		n += !r->pb->rows[i].skip;
	*nx = n;
	if (n == 0)
		return PUB_OK;
	if (redis_append(&r->redis, 1, multi, NULL) == -1)
		return PUB_REDIS;
	for (i = 0; i < rows->nrows; i++)
		if (!r->pb->rows[i].skip && pub_xadd(r, rows, i) == -1)
			return PUB_REDIS;
	if (redis_append(&r->redis, 1, exec, NULL) == -1)
		return PUB_REDIS;
	rep = xcalloc(n + 2, sizeof(*rep));
	if (redis_read_replies(&r->redis, rep, n + 2) == -1)
		goto out;
	if (rep[n + 1]->type == REDIS_REPLY_ARRAY &&
	    rep[n + 1]->elements == n) {
		*out = rep[n + 1];
		rep[n + 1] = NULL;
		rc = PUB_OK;
	} else if (r->pub_errs++ % 50 == 0)
		log_warnx("publish: EXEC: %s", rep[n + 1]->type ==
		    REDIS_REPLY_ERROR ? rep[n + 1]->str : "unexpected reply");
	for (i = 0; i < n + 2; i++)
		if (rep[i] != NULL)
			freeReplyObject(rep[i]);
out:
	free(rep);
	return rc;
}

/* Note that row i of stream p is at id. */
static void
pub_note(struct relay *r, const struct db_rows *rows, size_t i,
    const struct sid *id)
{
	struct ckpt	*ck = &r->pb->ck[r->pb->rows[i].part];

	if (ck->set && relay_sid_cmp(id, &ck->id) <= 0)
		return;
	ck->set = true;
	ck->id = *id;
	memcpy(ck->evid, db_cell(rows, i, OB_EVID), 16);
}

/*
 * Count the rows handled before any failure (appended or skipped),
 * noting the newest entry of each stream.
 */
static size_t
pub_results(struct relay *r, const struct db_rows *rows,
    const redisReply *exec)
{
	const redisReply	*e;
	struct sid		 id;
	size_t			 i, x = 0;

	for (i = 0; i < rows->nrows; i++) {
		if (r->pb->rows[i].skip) {
			pub_note(r, rows, i, &r->pb->rows[i].found);
			r->st.dups++;
			continue;
		}
		e = exec->element[x++];
		if (e->type != REDIS_REPLY_STRING ||
		    relay_sid_parse(e->str, &id) == -1) {
			if (r->pub_errs++ % 50 == 0)
				log_warnx("publish: event %s refused: %s",
				    r->pb->rows[i].evid,
				    e->type == REDIS_REPLY_ERROR ? e->str :
				    "unexpected reply");
			break;
		}
		pub_note(r, rows, i, &id);
		r->st.published++;
	}
	return i;
}

/* The outbox ids of rows [0, k) of stream p as a JSON array. */
static const char *
pub_id_list(struct relay *r, const struct db_rows *rows, size_t k,
    int64_t p, size_t *count)
{
	struct pubbuf	*pb = r->pb;
	size_t		 need = 3 + k * 22, o = 0, i;

	if (need > pb->jsonsz) {
		pb->json = xrealloc(pb->json, need);
		pb->jsonsz = need;
	}
	*count = 0;
	pb->json[o++] = '[';
	for (i = 0; i < k; i++) {
		if (pb->rows[i].part != p)
			continue;
		o += (size_t)snprintf(pb->json + o, pb->jsonsz - o, "%s%s",
		    *count > 0 ? "," : "", db_cell(rows, i, OB_ID));
		(*count)++;
	}
	pb->json[o++] = ']';
	pb->json[o] = '\0';
	return pb->json;
}

/*
 * Mark the rows [0, k) of stream p: off the queue, into a relay_batch
 * row, and the stream's newest entry recorded.
 */
static enum db_rc
pub_mark_stream(struct relay *r, const struct db_rows *rows, size_t k,
    int64_t p)
{
	const struct ckpt *ck = &r->pb->ck[p];
	struct db_arg	 a[5];
	const char	*ids;
	enum db_rc	 rc;
	size_t		 n;

	if (!ck->set)
		return DB_OK;
	ids = pub_id_list(r, rows, k, p, &n);
	a[0] = db_str(ids);
	if ((rc = db_exec(r->db, STMT_OUTBOX_MARK, a, 1, NULL, NULL)) !=
	    DB_OK)
		return rc;
	a[0] = DB_INT(p);
	a[1] = DB_INT((long long)ck->id.ms);
	a[2] = DB_INT((long long)ck->id.seq);
	a[3] = DB_INT((long long)n);
	a[4] = db_str(ids);
	if ((rc = db_exec(r->db, STMT_RELAY_BATCH_INSERT, a, 5, NULL,
	    NULL)) != DB_OK)
		return rc;
	a[0] = db_str(r->streams[p]);
	a[1] = DB_INT((long long)ck->id.ms);
	a[2] = DB_INT((long long)ck->id.seq);
	a[3] = DB_BIN(ck->evid, 16);
	return db_exec(r->db, STMT_RELAY_STREAM_SET, a, 4, NULL, NULL);
}

/* Mark rows [0, k) published, every stream, in one transaction. */
static int
pub_mark(struct relay *r, const struct db_rows *rows, size_t k)
{
	enum db_rc	 rc;
	int64_t		 p;
	int		 tries;

	/* A deadlock with an erasure's redaction is possible: redo. */
	for (tries = 0; tries < 3; tries++) {
		rc = db_begin(r->db);
		for (p = 0; p < r->nstreams && rc == DB_OK; p++)
			rc = pub_mark_stream(r, rows, k, p);
		if (rc == DB_OK && (rc = db_commit(r->db)) == DB_OK)
			return 0;
		db_rollback(r->db);
		if (rc != DB_RETRY)
			break;
	}
	return -1;
}

/* Test hook: ROLODEX_FAILPOINT=relay_after_xadd:N dies after N EXECs. */
static void
pub_failpoint(struct relay *r)
{
	if (r->failpoint == NULL ||
	    strncmp(r->failpoint, "relay_after_xadd", 16) != 0)
		return;
	if (--r->fail_after > 0)
		return;
	log_warnx("failpoint relay_after_xadd: SIGKILL before marking");
	raise(SIGKILL);
}

enum pub_rc
relay_publish(struct relay *r, int64_t *n)
{
	struct db_rows	 rows;
	struct db_arg	 lim = DB_INT(r->conf->relay_batch);
	redisReply	*exec = NULL;
	enum pub_rc	 rc;
	size_t		 nx, k = 0;

	*n = 0;
	if (db_exec(r->db, STMT_OUTBOX_BATCH, &lim, 1, &rows, NULL) != DB_OK)
		return PUB_DB;
	if ((rc = pub_prepare(r, &rows)) != PUB_OK ||
	    (rc = pub_send(r, &rows, &nx, &exec)) != PUB_OK)
		goto out;
	k = pub_results(r, &rows, exec);
	if (nx > 0)
		pub_failpoint(r);
	if (k > 0 && pub_mark(r, &rows, k) == -1) {
		rc = PUB_DB;
		goto out;
	}
	r->st.batches += k > 0;
	if (nx < rows.nrows)
		log_info("%zu rows already in the stream (appended before a "
		    "crash, failover or loss): marked, not appended again",
		    rows.nrows - nx);
	if (k == rows.nrows)
		r->pub_errs = 0;
	relay_skip_done(r, rows.nrows < (size_t)r->conf->relay_batch);
	*n = (int64_t)k;
	rc = k < rows.nrows ? PUB_REDIS : PUB_OK;
out:
	if (exec != NULL)
		freeReplyObject(exec);
	db_rows_clear(&rows);
	return rc;
}
