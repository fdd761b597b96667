/*
 * Rolodex - rolodex-relay: every committed outbox row on the Redis stream.
 *
 * The relay moves committed outbox rows to Redis Streams as CloudEvents
 * entries, and stores the identifiers adapters post back on the feedback
 * stream.  docs/relay.md holds the design and its argument; the
 * invariants the code keeps are:
 *
 *  1. Rows are read as "the oldest unpublished rows in id order", never
 *     "ids above the last one seen": ids are assigned at insert, rows
 *     become visible at commit, in another order.
 *  2. A batch is appended in id order inside MULTI/EXEC (all or nothing;
 *     a per-command error stops it at that row), and rows are marked
 *     published only after Redis answered.  So when an event is first
 *     appended, every earlier version of its aggregate is already in the
 *     stream or is appended just before it, whatever other relays do at
 *     the same time.
 *  3. After a start, a failover or any failure, the events already in the
 *     stream beyond the last recorded entry (a batch appended but not
 *     marked) are found and marked without being appended again, so a
 *     relay killed between the append and the mark duplicates nothing.
 *  4. After every (re)connect to Redis, and on becoming leader, the newest
 *     entry recorded in relay_stream must still exist; if Redis lost it,
 *     the rows of every batch that reached past the newest surviving entry
 *     are queued again (published rows are kept [relay] retention
 *     seconds).
 *  5. One relay at a time publishes: the holder of a named database lock.
 *     The others wait on the lock and take over when its connection ends
 *     or its heartbeat is older than [relay] lease.  Correctness does not
 *     depend on the lock (2 holds for any number of publishers); it saves
 *     work and keeps relay_stream meaningful.
 *
 * Every blocking call is bounded (database timeouts, Redis timeout,
 * GET_LOCK of 1 s, sleeps that end on a signal), so a SIGTERM is seen
 * within a few seconds; the batch in hand is finished first.
 */
#ifndef ROLODEX_RELAY_H
#define ROLODEX_RELAY_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "redis.h"

struct conf;
struct db;
struct pubbuf;
struct skipset;

/* A stream entry id, "<ms>-<seq>". */
struct sid {
	unsigned long long	 ms, seq;
};

/* The consumer group of the relay on the feedback stream. */
#define RELAY_FEEDBACK_GROUP	"rolodex-relay"
/* Feedback entries read per XREADGROUP / XAUTOCLAIM. */
#define RELAY_FEEDBACK_COUNT	100

struct relay_stats {
	uint64_t	 published;	/* entries appended */
	uint64_t	 dups;		/* rows found in the stream */
	uint64_t	 batches;
	uint64_t	 requeued;	/* rows queued again */
	uint64_t	 feedback;	/* identifiers stored */
};

struct relay {
	const struct conf *conf;	/* borrowed */
	struct db	*db;
	struct redis	 redis;
	char		 host[128];
	char		 name[160];	/* host:pid; consumer name */
	char		**streams;	/* one per partition */
	int64_t		 nstreams;
	bool		 leader;
	/* Before publishing: check relay_stream; load the skip set. */
	bool		 need_verify, need_skip;
	/* redis.connects at the last stream check, at XGROUP CREATE. */
	uint64_t	 verify_connects, group_connects;
	char		 claim_cursor[48];	/* XAUTOCLAIM position */
	int64_t		 wait_ms;	/* current poll interval */
	int64_t		 t_active;	/* when rows were last found */
	int64_t		 db_fails;	/* consecutive failures */
	/* Monotonic ms of the last heartbeat, feedback read, ... */
	int64_t		 t_beat, t_feedback, t_claim, t_house, t_purge;
	int64_t		 t_trim, t_report;
	bool		 purge_more;	/* the last purge ran out */
	bool		 feedback_more;	/* the last read was full */
	uint64_t	 pub_errs;	/* consecutive refusals */
	const char	*failpoint;	/* ROLODEX_FAILPOINT (tests) */
	int64_t		 fail_after;	/* EXECs before it fires */
	struct relay_stats st;
	struct relay_stats reported;
	struct pubbuf	*pb;		/* relay_pub.c buffers */
	struct skipset	*skip;		/* relay_skip.c, or NULL */
};

/* Set up r for conf (borrowed, must outlive r); no I/O. */
void	 relay_init(struct relay *, const struct conf *);
/* Release everything r holds (closes connections). */
void	 relay_clear(struct relay *);

/*
 * Run until *stop is set; *hup set means reopen the log file.  Returns 0
 * after a clean stop (the batch in hand finished, the lock released).
 */
int	 relay_run(struct relay *, volatile sig_atomic_t *stop,
	    volatile sig_atomic_t *hup);

/*
 * Refresh this relay's relay_node row (at most once a second unless
 * force); the leader also re-checks that it still holds the lock.
 */
void	 relay_heartbeat(struct relay *, bool force);

/* relay_pub.c */

enum pub_rc {
	PUB_OK,		/* *n rows published (0: nothing to do) */
	PUB_REDIS,	/* Redis failed or refused; back off */
	PUB_DB		/* the database failed; back off */
};

/* Publish one batch of the oldest unpublished rows. */
enum pub_rc relay_publish(struct relay *, int64_t *n);
void	 relay_pub_free(struct relay *);

/* relay_check.c */

/*
 * Check that the newest entry recorded for each stream still exists;
 * queue again the rows of entries Redis lost.  0, or -1 when Redis or the
 * database failed (try again later).
 */
int	 relay_verify_streams(struct relay *);
/* Parse "<ms>-<seq>": 0, or -1 if malformed. */
int	 relay_sid_parse(const char *, struct sid *);
int	 relay_sid_cmp(const struct sid *, const struct sid *);
/* Value of field name in a stream entry reply [id, [f, v, ...]]. */
const char *relay_entry_field(const redisReply *, const char *name);
/* Trim the streams as [relay] trim says.  0 / -1. */
int	 relay_trim(struct relay *);
/*
 * Delete published rows older than [relay] retention, for at most half a
 * second; true if there is more to delete.
 */
bool	 relay_purge(struct relay *);

/* relay_skip.c */

/*
 * Collect the events already in each stream around its recorded newest
 * entry: the batch before it (a partly lost batch queued again) and what
 * follows it (a batch appended but not marked).  0 / -1.
 */
int	 relay_skip_load(struct relay *);
/* 0 with *at set if event evid is in stream part; -1 if not. */
int	 relay_skip_find(struct relay *, const char *evid, int64_t part,
	    struct sid *at);
/* After a batch: drop the set once it is used up or the queue drained. */
void	 relay_skip_done(struct relay *, bool drained);
void	 relay_skip_free(struct relay *);

/* feedback.c */

/*
 * Read (claim: take over idle entries of dead relays) one batch from the
 * feedback stream, store the identifiers, acknowledge what was handled.
 * Returns the number of entries read, or -1 when Redis or the database
 * failed.
 */
int	 relay_feedback(struct relay *, bool claim);

#endif
