/*
 * Rolodex - rolodex-relay: the main loop (see relay.h, docs/relay.md).
 *
 * A relay is a standby or the leader.  A standby waits on the named lock
 * (GET_LOCK with a 1 s timeout, so the wait happens in the server) and
 * kills the holder's connection when its heartbeat is older than [relay]
 * lease.  The leader, each turn: heartbeat (and lock re-check) once a
 * second; database housekeeping (retention, stale relay rows); make sure
 * Redis is connected and, after any reconnect, the streams checked for
 * lost entries; publish one batch; Redis housekeeping (feedback,
 * trimming); then wait.
 *
 * Waiting: no wait after a full batch; 1 ms while rows were found in the
 * last HOT_MS (a writer's fsync stall of a few tens of milliseconds must
 * not leave the relay asleep when the commits arrive); then twice the
 * previous wait after each empty poll, up to [relay] idle_ms.  An idle
 * relay thus polls once per idle_ms (one primary-key probe of the queue),
 * a busy one sees a commit within a few milliseconds.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "relay.h"
#include "util.h"
#include "xalloc.h"

#define BEAT_MS			1000
#define FEEDBACK_MS		200
#define CLAIM_MS		10000
#define HOUSE_MS		10000
#define HOT_MS			100	/* 1 ms polls after rows */
#define PURGE_MORE_MS		1000
#define REPORT_MS		60000
#define LOCK_WAIT_S		1
#define DB_BACKOFF_BASE_MS	100
#define DB_BACKOFF_MAX_MS	5000

void
relay_init(struct relay *r, const struct conf *c)
{
	const char	*fp;
	int64_t		 k;

	memset(r, 0, sizeof(*r));
	r->conf = c;
	r->db = db_new(c, false);
	redis_init(&r->redis, c);
	if (gethostname(r->host, sizeof(r->host)) == -1)
		snprintf(r->host, sizeof(r->host), "localhost");
	r->host[sizeof(r->host) - 1] = '\0';
	snprintf(r->name, sizeof(r->name), "%s:%ld", r->host, (long)getpid());
	r->nstreams = c->redis_partitions;
	r->streams = xcalloc((size_t)r->nstreams, sizeof(*r->streams));
	for (k = 0; k < r->nstreams; k++)
		r->streams[k] = r->nstreams == 1 ? xstrdup(c->redis_stream) :
		    xasprintf("%s:%lld", c->redis_stream, (long long)k);
	snprintf(r->claim_cursor, sizeof(r->claim_cursor), "0-0");
	r->wait_ms = 1;
	r->t_report = time_mono_ms();
	if ((fp = getenv("ROLODEX_FAILPOINT")) != NULL && *fp != '\0') {
		r->failpoint = fp;
		r->fail_after = 1;
		if (strchr(fp, ':') != NULL)
			r->fail_after = strtoll(strchr(fp, ':') + 1, NULL, 10);
	}
}

void
relay_clear(struct relay *r)
{
	int64_t	 k;

	relay_pub_free(r);
	relay_skip_free(r);
	redis_close(&r->redis);
	db_free(r->db);
	for (k = 0; k < r->nstreams; k++)
		free(r->streams[k]);
	free(r->streams);
	memset(r, 0, sizeof(*r));
}

static void
relay_db_backoff(struct relay *r, volatile sig_atomic_t *stop)
{
	int64_t	 ms = DB_BACKOFF_BASE_MS, i;

	for (i = 0; i < r->db_fails && ms < DB_BACKOFF_MAX_MS; i++)
		ms *= 2;
	r->db_fails++;
	sleep_ms(ms < DB_BACKOFF_MAX_MS ? ms : DB_BACKOFF_MAX_MS, stop);
}

static void
relay_step_down(struct relay *r, const char *why)
{
	if (!r->leader)
		return;
	r->leader = false;
	log_warnx("relay %s: no longer the leader (%s); standing by",
	    r->name, why);
}

void
relay_heartbeat(struct relay *r, bool force)
{
	struct db_rows	 rows;
	struct db_arg	 a[5];
	int64_t		 now = time_mono_ms();
	bool		 held;

	if (!force && now - r->t_beat < BEAT_MS)
		return;
	r->t_beat = now;
	a[0] = db_str(r->name);
	a[1] = db_str(r->host);
	a[2] = DB_INT(getpid());
	a[3] = db_str(r->leader ? "leader" : "standby");
	a[4] = DB_INT((long long)r->st.published);
	if (db_exec(r->db, STMT_RELAY_NODE_UPSERT, a, 5, NULL, NULL) != DB_OK ||
	    !r->leader)
		return;
	/* The lock goes with the connection: re-check who holds it. */
	if (db_exec(r->db, STMT_RELAY_LOCK_HELD, NULL, 0, &rows, NULL) !=
	    DB_OK)
		return;
	held = rows.nrows == 1 && db_cell(&rows, 0, 0) != NULL &&
	    strcmp(db_cell(&rows, 0, 0), "1") == 0;
	db_rows_clear(&rows);
	if (!held)
		relay_step_down(r, "the lock is held by another connection");
}

/* Kill the lock holder's connection if its heartbeat is too old. */
static void
relay_lease_check(struct relay *r)
{
	struct db_rows	 rows;
	struct db_arg	 a;
	double		 age;

	if (db_exec(r->db, STMT_RELAY_LOCK_OWNER, NULL, 0, &rows, NULL) !=
	    DB_OK)
		return;
	if (rows.nrows != 1 || db_cell(&rows, 0, 0) == NULL ||
	    db_cell(&rows, 0, 1) == NULL)
		goto out;
	age = strtod(db_cell(&rows, 0, 2), NULL) / 1e6;
	if (age <= (double)r->conf->relay_lease)
		goto out;
	log_warnx("relay %s holds the lock but its heartbeat is %.1f s old "
	    "(lease %lld s): killing its database connection",
	    db_cell(&rows, 0, 1), age, (long long)r->conf->relay_lease);
	a = DB_INT(strtoll(db_cell(&rows, 0, 0), NULL, 10));
	db_exec(r->db, STMT_RELAY_KILL, &a, 1, NULL, NULL);
out:
	db_rows_clear(&rows);
}

/* A standby's turn: wait up to LOCK_WAIT_S for the lock. */
static void
relay_standby(struct relay *r, volatile sig_atomic_t *stop)
{
	struct db_rows	 rows;
	struct db_arg	 a = DB_INT(LOCK_WAIT_S);
	const char	*v;

	relay_heartbeat(r, false);
	if (db_exec(r->db, STMT_RELAY_LOCK_TRY, &a, 1, &rows, NULL) !=
	    DB_OK) {
		relay_db_backoff(r, stop);
		return;
	}
	r->db_fails = 0;
	v = rows.nrows == 1 ? db_cell(&rows, 0, 0) : NULL;
	if (v != NULL && strcmp(v, "1") == 0) {
		r->leader = true;
		r->need_verify = true;
		r->wait_ms = 1;
		log_info("relay %s: leader, publishing", r->name);
		relay_heartbeat(r, true);
	} else if (v != NULL)
		relay_lease_check(r);
	else {
		log_warnx("relay %s: GET_LOCK failed", r->name);
		relay_db_backoff(r, stop);
	}
	db_rows_clear(&rows);
}

/*
 * Redis connected, the streams checked since the connect, and, when the
 * last batch may have reached Redis unrecorded, the skip set loaded.
 */
static int
relay_redis_ready(struct relay *r)
{
	if (redis_ensure(&r->redis) == -1)
		return -1;
	if (r->need_verify || r->verify_connects != r->redis.connects) {
		if (relay_verify_streams(r) == -1)
			return -1;
		r->need_skip = true;
	}
	if (r->need_skip && relay_skip_load(r) == -1)
		return -1;
	return 0;
}

static void
relay_report(struct relay *r)
{
	struct relay_stats	*a = &r->st, *b = &r->reported;

	if (a->published != b->published || a->feedback != b->feedback ||
	    a->requeued != b->requeued)
		log_info("published %llu events in %llu batches (%llu "
		    "re-publications skipped), %llu queued again, %llu "
		    "identifiers stored",
		    (unsigned long long)(a->published - b->published),
		    (unsigned long long)(a->batches - b->batches),
		    (unsigned long long)(a->dups - b->dups),
		    (unsigned long long)(a->requeued - b->requeued),
		    (unsigned long long)(a->feedback - b->feedback));
	*b = *a;
}

/* The leader's periodic database work: it goes on while Redis is down. */
static void
relay_house_db(struct relay *r)
{
	struct db_arg	 a;
	int64_t		 now = time_mono_ms();

	if (now - r->t_house >= HOUSE_MS) {
		r->t_house = now;
		a = DB_INT(10 * r->conf->relay_lease);
		db_exec(r->db, STMT_RELAY_NODE_PURGE, &a, 1, NULL, NULL);
	}
	if (now - r->t_purge >= (r->purge_more ? PURGE_MORE_MS : HOUSE_MS)) {
		r->t_purge = now;
		r->purge_more = relay_purge(r);
	}
	if (now - r->t_report >= REPORT_MS) {
		r->t_report = now;
		relay_report(r);
	}
}

/* The leader's periodic Redis work besides publishing. */
static void
relay_house_redis(struct relay *r)
{
	int64_t		 now = time_mono_ms();
	int		 n;

	if (r->feedback_more || now - r->t_feedback >= FEEDBACK_MS) {
		r->t_feedback = now;
		n = relay_feedback(r, false);
		r->feedback_more = n >= RELAY_FEEDBACK_COUNT;
	}
	if (now - r->t_claim >= CLAIM_MS) {
		r->t_claim = now;
		relay_feedback(r, true);
	}
	if (now - r->t_trim >= HOUSE_MS) {
		r->t_trim = now;
		relay_trim(r);
	}
}

/* Sleep before the next poll (see the file comment). */
static void
relay_wait(struct relay *r, int64_t n, volatile sig_atomic_t *stop)
{
	int64_t	 now = time_mono_ms();

	if (n > 0)
		r->t_active = now;
	if (n >= r->conf->relay_batch)
		r->wait_ms = 0;
	else if (now - r->t_active < HOT_MS)
		r->wait_ms = 1;
	else if (r->wait_ms * 2 > r->conf->relay_idle_ms)
		r->wait_ms = r->conf->relay_idle_ms;
	else
		r->wait_ms = r->wait_ms > 0 ? r->wait_ms * 2 : 1;
	if (r->wait_ms > 0)
		sleep_ms(r->wait_ms, stop);
}

/* The leader's turn. */
static void
relay_lead(struct relay *r, volatile sig_atomic_t *stop)
{
	int64_t		 n = 0;

	relay_heartbeat(r, false);
	if (!r->leader)
		return;
	relay_house_db(r);
	if (relay_redis_ready(r) == -1) {
		if (r->redis.c == NULL)
			redis_backoff(&r->redis, stop);
		else
			relay_db_backoff(r, stop);
		return;
	}
	switch (relay_publish(r, &n)) {
	case PUB_OK:
		break;
	case PUB_REDIS:
		r->need_skip = true;
		redis_backoff(&r->redis, stop);
		return;
	case PUB_DB:
		r->need_skip = true;
		relay_db_backoff(r, stop);
		return;
	default:
		abort();
	}
	r->db_fails = 0;
	relay_house_redis(r);
	relay_wait(r, n, stop);
}

/* SIGTERM: the batch in hand is done; let a standby take over now. */
static void
relay_shutdown(struct relay *r)
{
	struct db_arg	 a = db_str(r->name);

	if (db_connected(r->db)) {
		if (r->leader)
			db_exec(r->db, STMT_RELAY_LOCK_RELEASE, NULL, 0, NULL,
			    NULL);
		db_exec(r->db, STMT_RELAY_NODE_DELETE, &a, 1, NULL, NULL);
	}
	relay_report(r);
	log_info("relay %s: stopped", r->name);
}

int
relay_run(struct relay *r, volatile sig_atomic_t *stop,
    volatile sig_atomic_t *hup)
{
	log_info("relay %s: starting; stream %s, %lld partition%s", r->name,
	    r->conf->redis_stream, (long long)r->nstreams,
	    r->nstreams == 1 ? "" : "s");
	while (!*stop) {
		if (*hup) {
			*hup = 0;
			if (log_reopen(r->conf->log_file) == -1)
				log_warn("reopen %s", r->conf->log_file);
			else
				log_info("log reopened");
		}
		if (r->leader && !db_connected(r->db))
			relay_step_down(r, "database connection lost");
		if (db_ensure(r->db) != DB_OK) {
			relay_db_backoff(r, stop);
			continue;
		}
		if (r->leader)
			relay_lead(r, stop);
		else
			relay_standby(r, stop);
	}
	relay_shutdown(r);
	return 0;
}
