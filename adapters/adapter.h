/*
 * Rolodex adapters - the consumer core shared by both adapters.
 *
 * The core reads the event stream in one consumer group per adapter,
 * decides what each event means for the external system, and hands the
 * resulting operations to a backend (sf.c, d365.c), which knows the
 * external API.  Everything about delivery lives here:
 *
 *  - the group is created when missing (XGROUP CREATE without MKSTREAM,
 *    BUSYGROUP is success; NOGROUP later, after Redis lost its data,
 *    recreates it);
 *  - on start the consumer re-reads its own pending entries, then new
 *    ones; entries of dead peers are claimed with XAUTOCLAIM after
 *    [adapter] claim_idle_ms;
 *  - an entry is acknowledged only after the external write succeeded
 *    (or the event turned out to be a duplicate or older than what was
 *    applied);
 *  - failures are retried with exponential backoff and jitter, per
 *    entry, honouring Retry-After; when the external system throttles
 *    (429, 5xx, limits) the whole consumer pauses;
 *  - an entry the external system rejects for good goes, with the
 *    reason and the original fields, to the dead-letter stream
 *    <dlq_prefix><adapter> once it was delivered [adapter]
 *    max_deliveries times;
 *  - a per-aggregate guard in Redis (version and event id last applied)
 *    drops duplicates and older events, and a per-party lease keeps two
 *    instances from writing one party at the same time, so an older
 *    state never overwrites a newer one (docs/adapters.md);
 *  - the identifiers the external system assigns are posted back once
 *    as ExternalIdentifierAssigned on the feedback stream;
 *  - SIGTERM finishes the batch in hand, acknowledges it and returns.
 */
#ifndef ROLODEX_ADAPTER_H
#define ROLODEX_ADAPTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "event.h"

struct conf;
struct http_client;

enum op_kind {
	OP_UPSERT,	/* create or replace the record of a party */
	OP_LINK,	/* set or clear a Contact's organisation */
	OP_DELETE	/* delete the record (organisations: unlink first) */
};

enum op_res {
	OPR_NONE,	/* not attempted */
	OPR_OK,
	OPR_TRANSIENT,	/* try again later (network, 5xx, 429, limits) */
	OPR_REJECTED,	/* the system refuses this record */
	OPR_MISSING	/* OP_LINK: the Contact does not exist (yet) */
};

/* One operation on the external system, and its outcome. */
struct op {
	enum op_kind	 kind;
	enum agg_type	 agg;		/* AGG_PERSON or AGG_ORG */
	const char	*party;		/* borrowed party id */
	json_object	*data;		/* OP_UPSERT: the party (borrowed) */
	const char	*org;		/* OP_LINK: organisation, NULL: none */
	/* Set by the backend. */
	enum op_res	 res;
	bool		 throttled;	/* the whole system said slow down */
	int64_t		 retry_after_ms;	/* Retry-After, 0: none */
	char		 ext_id[64];	/* id the system assigned, "" unknown */
	char		*err;		/* reason of a failure (owned) */
};

/*
 * Record the outcome res with a reason (printf format) on op, replacing
 * an earlier one.  The reason must not contain tokens or secrets.
 */
void	 op_fail(struct op *, enum op_res, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* What an adapter plugs into the core. */
struct backend {
	const char		*system;	/* "salesforce" or "d365" */
	void			*ctx;
	struct http_client	*http;		/* the core hooks renewals */
	/*
	 * Carry out n operations, all of the same kind and aggregate type,
	 * setting res (and ext_id, err, retry_after_ms) on every one.
	 */
	void			(*run)(void *ctx, struct op *ops, size_t n);
};

struct adapter_opts {
	const char	*consumer;	/* NULL: <hostname>-<pid> */
	const char	*failpoint;	/* "after_write:N": SIGKILL after the
					 * Nth successful external write */
	volatile int	*hup;		/* set: reopen the log (may be NULL) */
};

/*
 * Consume until *stop is set (SIGTERM): the batch in hand is finished
 * and acknowledged first.  Returns 0 on a clean stop, -1 (logged) if the
 * adapter cannot run at all.  Borrows everything.
 */
int	 adapter_run(const struct conf *, struct backend *,
	    const struct adapter_opts *, volatile int *stop);

/* How a program plugs a backend into adapter_main(). */
struct adapter_prog {
	const char		*name;		/* program name, for logs */
	const char		*system;	/* "salesforce" or "d365" */
	/* A new backend context from conf, or NULL with err set. */
	void			*(*init)(const struct conf *, char *err,
				    size_t errsz);
	void			 (*fini)(void *);
	void			 (*run)(void *, struct op *, size_t);
	struct http_client	*(*http)(void *);
};

/*
 * The whole program: options (-f config, -n check the configuration,
 * -v verbose, -c consumer name), configuration, signals (SIGTERM and
 * SIGINT stop after the batch in hand, SIGHUP reopens the log), then
 * adapter_run().  Returns the exit status.
 */
int	 adapter_main(int argc, char *argv[], const struct adapter_prog *);

/* The consumer group of an adapter, e.g. "rolodex-adapter-d365". */
#define ADAPTER_GROUP_PREFIX	"rolodex-adapter-"

#endif
