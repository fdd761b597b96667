/*
 * Rolodex adapters - internals of the consumer core, shared by
 * adapter.c (the loop and the stream reads), adapter_batch.c (what a
 * batch of events means and in which order it is written) and
 * adapter_state.c (the state kept in Redis: guard, leases, relationship
 * state, feedback, dead letters).
 *
 * Keys in Redis, for adapter A (A = "salesforce" or "d365"):
 *   rolodex:applied:A        hash aggregate id -> "version event-id L|D"
 *   rolodex:attempted:A      hash aggregate id -> highest version a write
 *                            was started for and not yet recorded
 *   rolodex:lease:A:<party>  string, owner token, PX lease_ms
 *   rolodex:extid:A          hash party id -> identifier posted back
 *   rolodex:link:A           hash person id -> organisation linked ("?"
 *                            while a write of it is in doubt)
 *   rolodex:emp:A:<person>   hash relationship id -> "org start end"
 *   rolodex:relowner:A       hash relationship id -> person id
 *   rolodex:status:A:<consumer>  hash, the instance's heartbeat
 *   <dlq_prefix>A            stream of dead letters
 */
#ifndef ROLODEX_ADAPTER_INT_H
#define ROLODEX_ADAPTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "redis.h"
#include "retry.h"

#define EMPLOYEE_OF		"employee-of"

struct stream {
	char	*name;
	bool	 ready;		/* the group exists on it */
	char	 claim[48];	/* XAUTOCLAIM cursor */
	char	 scan[48];	/* re-read of our PEL: last id, "" done */
};

struct adapter {
	const struct conf	*conf;
	struct backend		*be;
	struct redis		 r;
	volatile int		*stop;
	char			*group;
	char			*consumer;
	char			 token[80];	/* lease owner */
	struct stream		*st;
	size_t			 nst;
	/* Key names (see above). */
	char			*k_applied, *k_attempted, *k_lease, *k_extid;
	char			*k_link;
	char			*k_emp, *k_relowner, *k_status, *k_dlq;
	char			*source;	/* feedback source */
	struct retry_map	 retries;
	bool			 need_pel;	/* re-read own PEL from 0 */
	int64_t			 pause_until;	/* global backoff (mono ms) */
	unsigned		 throttles;	/* throttled rounds in a row */
	int64_t			 next_claim;
	int64_t			 next_status;
	int64_t			 lease_ms;
	/* Leases taken during the current batch. */
	char			**held;
	size_t			 nheld;
	int64_t			 renewed;	/* mono ms of last renewal */
	int64_t			 failpoint;	/* writes left before SIGKILL */
	/* Statistics. */
	uint64_t		 n_applied, n_skipped, n_retried;
	uint64_t		 n_dlq, n_feedback, n_batches;
	int64_t			 started;
};

/* Unit state: what became of one aggregate's entries in a batch. */
enum unit_state {
	U_NEW,		/* not decided yet */
	U_DONE,		/* written (or nothing to write): ack */
	U_SKIP,		/* duplicate or older than applied: ack */
	U_BUSY,		/* another instance holds the lease: retry */
	U_WAIT,		/* a record it depends on is not there yet */
	U_TRANSIENT,	/* failed for now: retry */
	U_REJECTED,	/* refused by the system: retry, then dead letter */
	U_DLQ		/* sent to the dead-letter stream (acked there) */
};

#define UNIT_MAX_OPS	2

/* All entries of one aggregate in a batch; ev[0] has the top version. */
struct unit {
	struct event	**ev;
	size_t		  nev;
	char		  owner[UUID_STRLEN + 1];	/* lease party */
	enum unit_state	  st;
	char		 *reason;		/* owned */
	int64_t		  retry_after_ms;
	bool		  throttled;
	char		  flag;			/* 'L' or 'D' when applied */
	struct op	 *ops[UNIT_MAX_OPS];
	size_t		  nops;
	/* Relationship units: state to store once the ops succeeded. */
	char		  emp_person[UUID_STRLEN + 1];	/* "" none */
	char		  emp_value[160];	/* "" deletes the field */
	char		  old_person[UUID_STRLEN + 1];	/* from changed */
	char		  link_person[2][UUID_STRLEN + 1];
	char		  link_org[2][UUID_STRLEN + 1];	/* "" unlinked */
	size_t		  nlinks;
};

/* adapter.c */

/* Acknowledge the n entries and forget their retry slots (best effort:
 * a lost ack is a redelivery the guard drops).  Borrows evs. */
void	 adapter_ack(struct adapter *, struct event **evs, size_t n);
/* HTTP pre-request hook: renew the batch's leases when a third of their
 * lifetime has passed.  arg is the struct adapter. */
void	 adapter_keepalive(void *arg);

/* adapter_batch.c */

/* Process n parsed entries to the end: written and acked, dead-lettered,
 * or left pending with a retry scheduled.  Borrows evs. */
void	 batch_process(struct adapter *, struct event *evs, size_t n);

/*
 * adapter_state.c.  Every function returns 0, or -1 when Redis failed
 * (logged once by redis.c or here); the caller then keeps the entries
 * pending.  Nothing is owned beyond the call unless said.
 */

/* The guard: sets U_SKIP / U_BUSY on units, takes leases (held). */
int	 state_begin(struct adapter *, struct unit **, size_t);
/* Record the versions of the U_DONE units that carry a flag. */
int	 state_commit(struct adapter *, struct unit **, size_t);
/* One more lease (held): 0 taken, 1 busy, -1 Redis failed. */
int	 state_lease(struct adapter *, const char *party);
/* Release every held lease (a failure leaves them to expire). */
void	 state_release_all(struct adapter *);
/* Extend every held lease to lease_ms; logs leases found lost. */
void	 state_renew(struct adapter *);
/* Post the identifiers of the n ops, each only if new for its party. */
int	 state_feedback(struct adapter *, struct op **, size_t);
/* Move ev to the dead-letter stream with reason, acked in the same
 * script (nothing happens if ev is no longer pending). */
int	 state_dlq(struct adapter *, struct event *ev, const char *reason);
/* Delivery count of ev from XPENDING, or -1. */
int64_t	 state_deliveries(struct adapter *, const struct event *);
/* Fill owner (and old_person) of relationship units. */
int	 state_rel_owners(struct adapter *, struct unit **, size_t);
/* A person's employments (new array, free()), link and own state. */
int	 state_rel_load(struct adapter *, const char *person,
	    struct employment **, size_t *, char *link, size_t linksz,
	    enum org_state *person_state);
/* The state of each employment's organisation in the target. */
int	 state_org_states(struct adapter *, struct employment *, size_t);
/* Store a done relationship unit's employment, owner and links. */
int	 state_rel_store(struct adapter *, struct unit *);
/* Mark the persons' links as in doubt ("?") before writing them. */
int	 state_link_doubt(struct adapter *, const char **, size_t);
/* Record the person of each relationship upsert before its write. */
int	 state_rel_owner_set(struct adapter *, struct unit **, size_t);
/* Forget a deleted person's employments and link. */
int	 state_person_gone(struct adapter *, const char *person);
/* Write this instance's heartbeat (rolodex:status:A:<consumer>). */
void	 state_status(struct adapter *);

#endif
