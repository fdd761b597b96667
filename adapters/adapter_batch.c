/*
 * Rolodex adapters - one batch of events, from entries to acks.
 *
 * The entries of a batch are grouped by aggregate into units; only the
 * newest version of each aggregate is written (the events carry whole
 * states, so older ones in the same batch are superseded and share the
 * newest one's fate).  The guard (adapter_state.c) then drops
 * duplicates and older events and takes the lease of each party to be
 * written.  Writes go to the backend in an order that respects what
 * depends on what:
 *
 *   1. organisation upserts, 2. person upserts   (records exist first)
 *   3. links: a person's organisation, from employee-of relationships
 *   4. person deletes, 5. organisation deletes  (the backend unlinks an
 *      organisation's contacts before deleting it)
 *
 * A link needs both records in the target: when one is not there yet
 * the unit waits, retried with backoff; only when it is still waiting
 * long after any dead instance's entries and leases would have been
 * taken over does it go to the dead-letter stream, naming what it
 * waited for (batch_waited()).  A person upsert never touches the
 * organisation field, so a link set by a relationship event is never
 * undone by a later update of the person.
 *
 * Invariants: an entry is acknowledged only when its unit is done,
 * skipped, or dead-lettered; the applied version of an aggregate is
 * recorded only after the external write succeeded; every lease taken
 * during the batch is released at its end.
 */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter_int.h"
#include "conf.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

/* A batch in progress. */
struct batch {
	struct adapter	 *ad;
	struct unit	 *u;
	struct unit	**up;		/* pointers to u[] (state calls) */
	size_t		  nu;
	struct op	 *pool;		/* every op of the batch */
	size_t		  npool;
	bool		  wrote;	/* an external write succeeded */
};

void
op_fail(struct op *op, enum op_res res, const char *fmt, ...)
{
	va_list	 ap;

	op->res = res;
	free(op->err);
	va_start(ap, fmt);
	if (vasprintf(&op->err, fmt, ap) == -1)
		fatalx("%s: out of memory", __func__);
	va_end(ap);
}

static void
unit_set(struct unit *u, enum unit_state st, const char *reason)
{
	u->st = st;
	free(u->reason);
	u->reason = reason != NULL ? xstrdup(reason) : NULL;
}

/* Group events by aggregate; the newest version leads each unit. */
static void
batch_units(struct batch *b, struct event *evs, size_t n)
{
	struct unit	*u;
	struct event	*t;
	size_t		 i, j;

	b->u = xcalloc(n, sizeof(*b->u));
	b->up = xcalloc(n, sizeof(*b->up));
	for (i = 0; i < n; i++) {
		for (j = 0; j < b->nu; j++)
			if (strcmp(b->u[j].ev[0]->subject, evs[i].subject) == 0)
				break;
		u = &b->u[j];
		if (j == b->nu) {
			b->nu++;
			u->ev = xcalloc(n, sizeof(*u->ev));
			memcpy(u->owner, evs[i].subject, UUID_STRLEN + 1);
			b->up[j] = u;
		}
		u->ev[u->nev++] = &evs[i];
		if (evs[i].version > u->ev[0]->version) {
			t = u->ev[0];
			u->ev[0] = u->ev[u->nev - 1];
			u->ev[u->nev - 1] = t;
		}
	}
}

static struct op *
batch_op(struct batch *b, struct unit *u, enum op_kind k, enum agg_type agg,
    const char *party)
{
	struct op	*op = &b->pool[b->npool++];

	memset(op, 0, sizeof(*op));
	op->kind = k;
	op->agg = agg;
	op->party = party;
	u->ops[u->nops++] = op;
	return op;
}

/* Failpoint "after_write:N": die between the write and the ack. */
static void
batch_failpoint(struct adapter *ad)
{
	if (ad->failpoint > 0 && --ad->failpoint == 0) {
		log_warnx("failpoint after_write: SIGKILL");
		raise(SIGKILL);
	}
}

/* Hand the ops of pool[from..npool) to the backend, then settle units. */
static void
batch_run(struct batch *b, size_t from)
{
	struct op	*op;
	size_t		 i, k;
	bool		 ok = false;

	if (b->npool == from)
		return;
	b->ad->be->run(b->ad->be->ctx, &b->pool[from], b->npool - from);
	for (i = from; i < b->npool; i++)
		if (b->pool[i].res == OPR_OK)
			ok = b->wrote = true;
	if (ok)
		batch_failpoint(b->ad);
	for (i = 0; i < b->nu; i++) {
		struct unit	*u = &b->u[i];

		if (u->st != U_NEW || u->nops == 0 ||
		    u->ops[u->nops - 1] < &b->pool[from])
			continue;
		for (k = 0; k < u->nops; k++) {
			op = u->ops[k];
			if (op->res == OPR_OK)
				continue;
			u->throttled |= op->throttled;
			if (op->retry_after_ms > u->retry_after_ms)
				u->retry_after_ms = op->retry_after_ms;
			unit_set(u, op->res == OPR_REJECTED ? U_REJECTED :
			    op->res == OPR_MISSING ? U_WAIT : U_TRANSIENT,
			    op->err != NULL ? op->err : "not attempted");
			break;
		}
		if (k == u->nops)
			u->st = U_DONE;
	}
}

/* Queue ops for party units of agg doing action; returns the start. */
static size_t
batch_party_ops(struct batch *b, enum agg_type agg, enum ev_action action)
{
	size_t		 i, from = b->npool;
	struct unit	*u;
	struct op	*op;

	for (i = 0; i < b->nu; i++) {
		u = &b->u[i];
		if (u->st != U_NEW || u->ev[0]->agg != agg ||
		    u->ev[0]->action != action)
			continue;
		op = batch_op(b, u, action == EVA_UPSERT ? OP_UPSERT :
		    OP_DELETE, agg, u->ev[0]->subject);
		op->data = u->ev[0]->data;
		u->flag = action == EVA_UPSERT ? 'L' : 'D';
	}
	return from;
}

/* Today's date in UTC, YYYY-MM-DD. */
static void
today_utc(char dst[DATE_LEN + 1])
{
	time_t		 t = time(NULL);
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(dst, DATE_LEN + 1, "%Y-%m-%d", &tm);
}

/* The employment an upsert of an employee-of relationship adds. */
static bool
rel_employment(const struct event *ev, struct employment *e)
{
	if (ev->action != EVA_UPSERT || strcmp(ev->rel_type, EMPLOYEE_OF) != 0)
		return false;
	memset(e, 0, sizeof(*e));
	memcpy(e->rid, ev->subject, UUID_STRLEN + 1);
	memcpy(e->org, ev->to, UUID_STRLEN + 1);
	memcpy(e->start, ev->start, sizeof(e->start));
	memcpy(e->end, ev->end, sizeof(e->end));
	return true;
}

/*
 * Work out the organisation person should point to once the
 * relationships of the ng units g are removed from it (and, with adds,
 * replaced by what their events say).  Sets *org ("" for none) and
 * *need (a write is needed); returns 0, 1 when it must wait (reason in
 * why), -1 on a Redis failure.
 */
static int
plan_person(struct adapter *ad, const char *person, struct unit **g,
    size_t ng, bool adds, char *org, bool *need, char *why, size_t whysz)
{
	struct employment	*e, x;
	enum org_state		 ps = ORG_UNKNOWN;
	char			 link[UUID_STRLEN + 1], today[DATE_LEN + 1];
	size_t			 n, i, k;
	bool			 wait;
	int			 best, rc = -1;

	*need = false;
	org[0] = '\0';
	if (state_rel_load(ad, person, &e, &n, link, sizeof(link), &ps) == -1)
		return -1;
	e = xreallocarray(e, n + ng + 1, sizeof(*e));
	for (k = 0; k < ng; k++)
		for (i = 0; i < n; i++)
			if (strcmp(e[i].rid, g[k]->ev[0]->subject) == 0) {
				e[i] = e[--n];
				break;
			}
	for (k = 0; adds && k < ng; k++)
		if (rel_employment(g[k]->ev[0], &x))
			e[n++] = x;
	if (state_org_states(ad, e, n) == -1)
		goto out;
	rc = 0;
	if (ps == ORG_GONE)
		goto out;	/* the person is deleted: nothing to link */
	today_utc(today);
	best = link_choose(e, n, today, &wait);
	if (wait) {
		for (i = 0; i < n && e[i].state != ORG_UNKNOWN; i++)
			continue;
		snprintf(why, whysz, "organisation %s is not replicated yet",
		    i < n ? e[i].org : "?");
		rc = 1;
		goto out;
	}
	if (best >= 0)
		memcpy(org, e[best].org, UUID_STRLEN + 1);
	if (strcmp(org, link) == 0)
		goto out;
	if (ps == ORG_UNKNOWN) {
		snprintf(why, whysz, "person %s is not replicated yet",
		    person);
		rc = 1;
		goto out;
	}
	*need = true;
out:
	free(e);
	return rc;
}

/*
 * Record on each of the ng units g that person ends up linked to org
 * ("" unlinked) and, when need, add one link write they all depend on.
 */
static void
plan_link(struct batch *b, struct unit **g, size_t ng, const char *person,
    const char *org, bool need)
{
	struct op	*op = NULL;
	struct unit	*u;
	size_t		 i, k;

	for (i = 0; i < ng; i++) {
		u = g[i];
		k = u->nlinks++;
		memcpy(u->link_person[k], person, UUID_STRLEN + 1);
		memcpy(u->link_org[k], org, UUID_STRLEN + 1);
		if (!need)
			continue;
		if (op == NULL) {
			op = batch_op(b, u, OP_LINK, AGG_PERSON,
			    u->link_person[k]);
			op->org = u->link_org[k][0] != '\0' ? u->link_org[k] :
			    NULL;
		} else
			u->ops[u->nops++] = op;
	}
}

/* Plan ng relationship units of one person together; unit_set on all. */
static void
plan_group(struct batch *b, struct unit **g, size_t ng)
{
	struct employment	 x;
	char			 org[UUID_STRLEN + 1], why[160];
	size_t			 i;
	bool			 need;
	int			 rc;

	rc = plan_person(b->ad, g[0]->owner, g, ng, true, org, &need, why,
	    sizeof(why));
	for (i = 0; i < ng; i++) {
		if (rc != 0) {
			unit_set(g[i], rc == 1 ? U_WAIT : U_TRANSIENT,
			    rc == 1 ? why : "redis");
			continue;
		}
		memcpy(g[i]->emp_person, g[i]->owner, UUID_STRLEN + 1);
		if (rel_employment(g[i]->ev[0], &x))
			employment_fmt(&x, g[i]->emp_value,
			    sizeof(g[i]->emp_value));
	}
	if (rc != 0)
		return;
	/*
	 * Hold the organisation's lease too: its delete (which unlinks its
	 * contacts, then deletes it, and the external system would take
	 * every contact still linked with it) must not interleave with a
	 * link to it.
	 */
	if (need && org[0] != '\0' && (rc = state_lease(b->ad, org)) != 0) {
		for (i = 0; i < ng; i++)
			unit_set(g[i], rc == 1 ? U_BUSY : U_TRANSIENT,
			    "lease of the organisation");
		return;
	}
	/* Deleted between our look and the lease: plan again later. */
	memset(&x, 0, sizeof(x));
	memcpy(x.org, org, UUID_STRLEN + 1);
	if (need && org[0] != '\0' && (state_org_states(b->ad, &x, 1) ==
	    -1 || x.state != ORG_LIVE)) {
		for (i = 0; i < ng; i++)
			unit_set(g[i], U_TRANSIENT, "organisation changed");
		return;
	}
	plan_link(b, g, ng, g[0]->owner, org, need);
	for (i = 0; i < ng; i++)
		if (g[i]->nops == 0)
			g[i]->st = U_DONE;
}

/* A relationship that moved to another person: unlink the old one too. */
static void
plan_moved(struct batch *b, struct unit *u)
{
	char	 org[UUID_STRLEN + 1], why[160];
	bool	 need;
	int	 rc;

	if ((rc = state_lease(b->ad, u->old_person)) != 0) {
		unit_set(u, rc == 1 ? U_BUSY : U_TRANSIENT,
		    "lease of the previous person");
		return;
	}
	rc = plan_person(b->ad, u->old_person, &u, 1, false, org, &need, why,
	    sizeof(why));
	if (rc != 0) {
		unit_set(u, rc == 1 ? U_WAIT : U_TRANSIENT, why);
		return;
	}
	plan_link(b, &u, 1, u->old_person, org, need);
	plan_group(b, &u, 1);
}

/*
 * Decide what the relationship units mean for their persons.  All the
 * units of one person are planned together: planned one by one, two
 * relationships of a person in one batch would each see the other
 * missing and the last write would win.
 */
static void
plan_rels(struct batch *b)
{
	struct unit	**g, *u;
	size_t		  i, j, ng;

	g = xcalloc(b->nu + 1, sizeof(*g));
	for (i = 0; i < b->nu; i++) {
		u = &b->u[i];
		if (u->st != U_NEW || u->ev[0]->agg != AGG_REL)
			continue;
		u->flag = u->ev[0]->action == EVA_DELETE ? 'D' : 'L';
		if (strcmp(u->owner, u->ev[0]->subject) == 0)
			u->st = U_DONE;	/* no person known: nothing to do */
		else if (u->old_person[0] != '\0')
			plan_moved(b, u);
	}
	for (i = 0; i < b->nu; i++) {
		u = &b->u[i];
		if (u->st != U_NEW || u->ev[0]->agg != AGG_REL || u->nlinks > 0)
			continue;
		ng = 0;
		for (j = i; j < b->nu; j++)
			if (b->u[j].st == U_NEW && b->u[j].ev[0]->agg ==
			    AGG_REL && b->u[j].nlinks == 0 &&
			    strcmp(b->u[j].owner, u->owner) == 0)
				g[ng++] = &b->u[j];
		plan_group(b, g, ng);
	}
	free(g);
}

/* Mark the links about to be written as in doubt; -1: none is sent. */
static int
batch_doubt(struct batch *b, size_t from)
{
	const char	**p;
	size_t		  i, n = 0;
	int		  rc;

	if (b->npool == from)
		return 0;
	p = xcalloc(b->npool - from, sizeof(*p));
	for (i = from; i < b->npool; i++)
		p[n++] = b->pool[i].party;
	if ((rc = state_link_doubt(b->ad, p, n)) == -1)
		for (i = 0; i < b->nu; i++)
			if (b->u[i].st == U_NEW &&
			    b->u[i].ev[0]->agg == AGG_REL)
				unit_set(&b->u[i], U_TRANSIENT, "redis");
	free(p);
	return rc;
}

/* Store relationship state of done units; a failure means retry. */
static void
batch_rel_store(struct batch *b)
{
	size_t	 i;

	for (i = 0; i < b->nu; i++)
		if (b->u[i].st == U_DONE && b->u[i].ev[0]->agg == AGG_REL &&
		    state_rel_store(b->ad, &b->u[i]) == -1)
			unit_set(&b->u[i], U_TRANSIENT, "redis");
}

/* Post the identifiers of successful upserts. */
static void
batch_feedback(struct batch *b)
{
	struct op	**ops;
	size_t		  i, n = 0;

	ops = xcalloc(b->npool + 1, sizeof(*ops));
	for (i = 0; i < b->npool; i++)
		if (b->pool[i].kind == OP_UPSERT && b->pool[i].res == OPR_OK &&
		    b->pool[i].ext_id[0] != '\0')
			ops[n++] = &b->pool[i];
	/* Not posted: the upserts are not recorded either, and are redone. */
	if (state_feedback(b->ad, ops, n) == -1) {
		log_warnx("feedback of %zu identifiers not posted", n);
		for (i = 0; i < b->nu; i++)
			if (b->u[i].st == U_DONE && b->u[i].nops > 0 &&
			    b->u[i].ops[0]->kind == OP_UPSERT)
				unit_set(&b->u[i], U_TRANSIENT, "redis");
	}
	free(ops);
}

/* Retry key of an entry in the retry map. */
static void
retry_key(const struct event *ev, char *dst, size_t dsz)
{
	snprintf(dst, dsz, "%zu/%s", ev->stream, ev->entry);
}

/* Leave u's entries pending and schedule their next try. */
static void
batch_retry(struct batch *b, struct unit *u, int64_t now)
{
	struct adapter		*ad = b->ad;
	struct retry_slot	*s;
	char			 key[80];
	int64_t			 d;
	size_t			 i;

	for (i = 0; i < u->nev; i++) {
		retry_key(u->ev[i], key, sizeof(key));
		s = retry_map_put(&ad->retries, key);
		s->attempts++;
		d = retry_backoff_ms(ad->conf->adapter_backoff_base_ms,
		    ad->conf->adapter_backoff_max_ms, s->attempts,
		    (double)arc4random() / 4294967296.0);
		if (u->retry_after_ms > d)
			d = u->retry_after_ms;
		s->due_ms = now + d;
	}
	ad->n_retried++;
	log_debug("retry %s %s v%lld: %s", u->ev[0]->type, u->ev[0]->subject,
	    (long long)u->ev[0]->version, u->reason != NULL ? u->reason :
	    "busy");
}

/* Dead-letter a rejected unit that has had its deliveries; else retry. */
static void
batch_reject(struct batch *b, struct unit *u, int64_t limit, int64_t now)
{
	struct event	*ev = u->ev[0];

	if (ev->deliveries <= 0)
		ev->deliveries = state_deliveries(b->ad, ev);
	if (ev->deliveries < limit) {
		batch_retry(b, u, now);
		return;
	}
	if (state_dlq(b->ad, ev, u->reason != NULL ? u->reason :
	    "rejected") == -1) {
		batch_retry(b, u, now);
		return;
	}
	u->st = U_DLQ;
	/* The superseded entries go with it (acked below). */
}

/*
 * Whether an entry waiting for a record it depends on has waited long
 * enough to give up: ten times what a dead instance can hold things up
 * (claim_idle_ms until its entries are claimed, lease_ms until its
 * leases lapse), counted from when the entry was added to the stream
 * (the time in its id).
 */
static bool
batch_waited(const struct adapter *ad, const struct event *ev)
{
	struct timespec	 ts;
	int64_t		 added, now;
	char		 ms[24];

	str_copy(ms, sizeof(ms), ev->entry);
	ms[strcspn(ms, "-")] = '\0';
	if (parse_int64(ms, 0, INT64_MAX, &added) == -1)
		return true;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	return now - added >= 10 * (ad->conf->adapter_claim_idle_ms +
	    ad->lease_ms);
}

/* Pause the whole consumer after the system throttled this batch. */
static void
batch_throttle(struct adapter *ad, int64_t retry_after, bool wrote)
{
	int64_t	 d = 0;

	if (!wrote)
		ad->throttles++;
	if (ad->throttles > 0)
		d = retry_backoff_ms(ad->conf->adapter_backoff_base_ms,
		    ad->conf->adapter_backoff_max_ms, ad->throttles,
		    (double)arc4random() / 4294967296.0);
	if (retry_after > d)
		d = retry_after;
	ad->pause_until = time_mono_ms() + d;
	log_info("%s throttles: pausing %lld ms", ad->be->system,
	    (long long)d);
}

/* Settle every unit: ack, dead-letter or schedule a retry. */
static void
batch_settle(struct batch *b, size_t nev)
{
	struct adapter	 *ad = b->ad;
	struct event	**ack;
	struct unit	 *u;
	int64_t		  now = time_mono_ms(), limit, pause = 0;
	size_t		  i, k, nack = 0;
	bool		  throttled = false;

	ack = xcalloc(nev + 1, sizeof(*ack));
	limit = ad->conf->adapter_max_deliveries;
	for (i = 0; i < b->nu; i++) {
		u = &b->u[i];
		if (u->st == U_REJECTED || (u->st == U_WAIT &&
		    batch_waited(ad, u->ev[0])))
			batch_reject(b, u, limit, now);
		else if (u->st != U_DONE && u->st != U_SKIP)
			batch_retry(b, u, now);
		if (u->throttled) {
			throttled = true;
			if (u->retry_after_ms > pause)
				pause = u->retry_after_ms;
		}
		if (u->st == U_DONE)
			ad->n_applied++;
		else if (u->st == U_SKIP)
			ad->n_skipped++;
		/* A dead letter's own entry was acked with it; again is
		 * harmless and drops its retry slot. */
		if (u->st == U_DONE || u->st == U_SKIP || u->st == U_DLQ)
			for (k = 0; k < u->nev; k++)
				ack[nack++] = u->ev[k];
	}
	adapter_ack(ad, ack, nack);
	free(ack);
	/*
	 * A system that took some writes is not down: its failed records
	 * wait for their own backoff, and the whole consumer pauses only
	 * when told so (Retry-After).  One that took nothing is paused,
	 * longer each time.
	 */
	if (b->wrote)
		ad->throttles = 0;
	if (throttled && (!b->wrote || pause > 0))
		batch_throttle(ad, pause, b->wrote);
}

/* Record written versions; on failure the written units are retried. */
static int
batch_commit(struct batch *b)
{
	size_t	 i;

	if (state_commit(b->ad, b->up, b->nu) == 0)
		return 0;
	/* Written but not recorded: retry (the writes are idempotent). */
	for (i = 0; i < b->nu; i++)
		if (b->u[i].st == U_DONE)
			unit_set(&b->u[i], U_TRANSIENT, "redis");
	return -1;
}

/* Run the phases of a batch whose units passed the guard. */
static void
batch_phases(struct batch *b)
{
	size_t	 i, from;

	b->pool = xcalloc(b->nu * UNIT_MAX_OPS + 1, sizeof(*b->pool));
	batch_run(b, batch_party_ops(b, AGG_ORG, EVA_UPSERT));
	batch_run(b, batch_party_ops(b, AGG_PERSON, EVA_UPSERT));
	/*
	 * The identifiers go out before the versions are recorded: if Redis
	 * loses the tail of its log, losing the feedback means losing the
	 * record of the write too, and the event is written (and its
	 * identifier posted) again.
	 */
	batch_feedback(b);
	/* Links see the records written above as live. */
	if (batch_commit(b) == -1)
		return;
	from = b->npool;
	if (state_rel_owner_set(b->ad, b->up, b->nu) == -1)
		return;		/* the rest is retried */
	plan_rels(b);
	if (batch_doubt(b, from) == 0)
		batch_run(b, from);
	batch_rel_store(b);
	batch_run(b, batch_party_ops(b, AGG_PERSON, EVA_DELETE));
	for (i = 0; i < b->nu; i++)
		if (b->u[i].st == U_DONE && b->u[i].flag == 'D' &&
		    b->u[i].ev[0]->agg == AGG_PERSON &&
		    state_person_gone(b->ad, b->u[i].ev[0]->subject) == -1)
			unit_set(&b->u[i], U_TRANSIENT, "redis");
	batch_run(b, batch_party_ops(b, AGG_ORG, EVA_DELETE));
	batch_commit(b);
}

void
batch_process(struct adapter *ad, struct event *evs, size_t n)
{
	struct batch	 b;
	size_t		 i;

	memset(&b, 0, sizeof(b));
	b.ad = ad;
	ad->n_batches++;
	batch_units(&b, evs, n);
	if (state_rel_owners(ad, b.up, b.nu) == -1 ||
	    state_begin(ad, b.up, b.nu) == -1) {
		for (i = 0; i < b.nu; i++)
			unit_set(&b.u[i], U_TRANSIENT, "redis");
	} else
		batch_phases(&b);
	/* Units the phases never reached (Redis failed) are retried. */
	for (i = 0; i < b.nu; i++)
		if (b.u[i].st == U_NEW)
			unit_set(&b.u[i], U_TRANSIENT, "redis");
	batch_settle(&b, n);
	state_release_all(ad);
	for (i = 0; i < b.npool; i++)
		free(b.pool[i].err);
	for (i = 0; i < b.nu; i++) {
		free(b.u[i].ev);
		free(b.u[i].reason);
	}
	free(b.pool);
	free(b.u);
	free(b.up);
}
