/*
 * Rolodex adapters - the consumer loop (see adapter.h).
 *
 * One round of the loop does at most one of these, in this order:
 *   - sleep while the external system told us to pause;
 *   - create the group on streams that lack it;
 *   - re-read our own pending entries from the start (XREADGROUP ... 0),
 *     at start-up and after the group was recreated;
 *   - claim entries idle past claim_idle_ms from dead peers (XAUTOCLAIM);
 *   - retry our own pending entries that are due (XPENDING, XCLAIM);
 *   - read new entries (XREADGROUP ... >, BLOCK at most block_ms, less
 *     when a retry or a claim is due sooner).
 * Every blocking call is bounded (BLOCK, the Redis and HTTP timeouts),
 * so SIGTERM is seen within about block_ms plus one batch.
 *
 * The Redis socket timeout is raised above BLOCK for the blocking read
 * only: a client that gives up before the server would leave entries
 * delivered to nobody (they would wait in our PEL for the next re-read).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter_int.h"
#include "conf.h"
#include "http_client.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define STATUS_EVERY_MS		2000
#define STATS_EVERY_MS		60000
#define DEAD_CONSUMER_MS	3600000	/* idle, no pending: forgotten */

/* Entries read in one call, parsed; malformed ones already handled. */
struct got {
	struct event	*ev;
	size_t		 n, cap;
};

static bool
consumer_name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 64)
		return false;
	for (; *s != '\0'; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && strchr("-_.:@", *s) == NULL)
			return false;
	return true;
}

/* Names, streams and the lease token; -1 (logged) on a bad consumer. */
static int
adapter_setup(struct adapter *ad, const struct conf *c, struct backend *be,
    const struct adapter_opts *o)
{
	const char	*sys = be->system;
	char		 host[64];
	unsigned char	 rnd[8];
	size_t		 i;

	memset(ad, 0, sizeof(*ad));
	ad->conf = c;
	ad->be = be;
	if (o->consumer != NULL)
		ad->consumer = xstrdup(o->consumer);
	else {
		if (gethostname(host, sizeof(host)) == -1)
			str_copy(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		ad->consumer = xasprintf("%s-%ld", host, (long)getpid());
	}
	if (!consumer_name_ok(ad->consumer)) {
		log_warnx("bad consumer name (letters, digits, -_.:@; at most "
		    "64)");
		return -1;
	}
	arc4random_buf(rnd, sizeof(rnd));
	hex_encode(host, rnd, sizeof(rnd));
	snprintf(ad->token, sizeof(ad->token), "%s/%s", ad->consumer, host);
	ad->group = xasprintf(ADAPTER_GROUP_PREFIX "%s", sys);
	ad->source = xasprintf("rolodex-adapter-%s", sys);
	ad->k_applied = xasprintf("rolodex:applied:%s", sys);
	ad->k_attempted = xasprintf("rolodex:attempted:%s", sys);
	ad->k_lease = xasprintf("rolodex:lease:%s:", sys);
	ad->k_extid = xasprintf("rolodex:extid:%s", sys);
	ad->k_link = xasprintf("rolodex:link:%s", sys);
	ad->k_emp = xasprintf("rolodex:emp:%s:", sys);
	ad->k_relowner = xasprintf("rolodex:relowner:%s", sys);
	ad->k_status = xasprintf("rolodex:status:%s:%s", sys, ad->consumer);
	ad->k_dlq = xasprintf("%s%s", c->adapter_dlq_prefix, sys);
	ad->nst = c->redis_partitions > 1 ? (size_t)c->redis_partitions : 1;
	ad->st = xcalloc(ad->nst, sizeof(*ad->st));
	for (i = 0; i < ad->nst; i++) {
		ad->st[i].name = ad->nst == 1 ? xstrdup(c->redis_stream) :
		    xasprintf("%s:%zu", c->redis_stream, i);
		str_copy(ad->st[i].claim, sizeof(ad->st[i].claim), "0-0");
	}
	ad->lease_ms = c->adapter_http_timeout_ms * 2 + 5000;
	ad->need_pel = true;
	ad->started = time_mono_ms();
	retry_map_init(&ad->retries);
	redis_init(&ad->r, c);
	if (o->failpoint != NULL && strncmp(o->failpoint, "after_write:",
	    12) == 0 && parse_int64(o->failpoint + 12, 1, 1000000,
	    &ad->failpoint) == -1)
		ad->failpoint = 0;
	return 0;
}

static void
adapter_teardown(struct adapter *ad)
{
	size_t	 i;

	redis_close(&ad->r);
	retry_map_clear(&ad->retries);
	for (i = 0; i < ad->nst; i++)
		free(ad->st[i].name);
	free(ad->st);
	free(ad->consumer);
	free(ad->group);
	free(ad->source);
	free(ad->k_applied);
	free(ad->k_attempted);
	free(ad->k_lease);
	free(ad->k_extid);
	free(ad->k_link);
	free(ad->k_emp);
	free(ad->k_relowner);
	free(ad->k_status);
	free(ad->k_dlq);
}

void
adapter_keepalive(void *arg)
{
	struct adapter	*ad = arg;

	if (ad->nheld > 0 && time_mono_ms() - ad->renewed > ad->lease_ms / 3)
		state_renew(ad);
}

/* After NOGROUP: Redis lost the group (flush, restart without data). */
static void
adapter_lost_group(struct adapter *ad, const redisReply *rep)
{
	size_t	 i;

	if (!redis_is_error(rep, "NOGROUP"))
		return;
	log_warnx("consumer group %s is gone: recreating it", ad->group);
	for (i = 0; i < ad->nst; i++)
		ad->st[i].ready = false;
	ad->need_pel = true;
	retry_map_clear(&ad->retries);
	retry_map_init(&ad->retries);
}

/* Create the group where it is missing; how many streams are ready. */
static size_t
adapter_groups(struct adapter *ad)
{
	redisReply	*rep;
	size_t		 i, ready = 0;

	for (i = 0; i < ad->nst; i++) {
		if (ad->st[i].ready) {
			ready++;
			continue;
		}
		rep = redis_cmdf(&ad->r, "XGROUP CREATE %s %s %s",
		    ad->st[i].name, ad->group, ad->conf->adapter_start_id);
		if (rep == NULL)
			return ready;
		if (rep->type == REDIS_REPLY_STATUS ||
		    redis_is_error(rep, "BUSYGROUP")) {
			if (rep->type == REDIS_REPLY_STATUS)
				log_info("created consumer group %s on %s at "
				    "%s", ad->group, ad->st[i].name,
				    ad->conf->adapter_start_id);
			ad->st[i].ready = true;
			ad->need_pel = true;
			ready++;
		} else
			log_debug("stream %s: %s", ad->st[i].name, rep->str);
		freeReplyObject(rep);
	}
	return ready;
}

void
adapter_ack(struct adapter *ad, struct event **evs, size_t n)
{
	struct argv_s { const char **v; size_t *l; size_t n; } a;
	redisReply	*rep;
	char		 key[80];
	size_t		 s, i;

	a.v = xcalloc(n + 3, sizeof(*a.v));
	a.l = xcalloc(n + 3, sizeof(*a.l));
	for (s = 0; s < ad->nst; s++) {
		a.n = 0;
		a.v[a.n++] = "XACK";
		a.v[a.n++] = ad->st[s].name;
		a.v[a.n++] = ad->group;
		for (i = 0; i < n; i++)
			if (evs[i]->stream == s)
				a.v[a.n++] = evs[i]->entry;
		if (a.n == 3)
			continue;
		for (i = 0; i < a.n; i++)
			a.l[i] = strlen(a.v[i]);
		/* A lost ack means a redelivery the guard will skip. */
		if ((rep = redis_cmd(&ad->r, (int)a.n, a.v, a.l)) != NULL)
			freeReplyObject(rep);
	}
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%zu/%s", evs[i]->stream,
		    evs[i]->entry);
		retry_map_del(&ad->retries, key);
	}
	free(a.v);
	free(a.l);
}

/* Stream index of a stream name in a reply, or nst. */
static size_t
stream_index(const struct adapter *ad, const char *name)
{
	size_t	 i;

	for (i = 0; i < ad->nst; i++)
		if (strcmp(ad->st[i].name, name) == 0)
			return i;
	return ad->nst;
}

/*
 * Add one entry ([id, [field, value...]]) of stream s to g.  An entry
 * whose body is gone (trimmed while pending) is acknowledged; one that
 * cannot be parsed goes to the dead-letter stream.
 */
static void
got_entry(struct adapter *ad, struct got *g, size_t s, const redisReply *e,
    int64_t deliveries)
{
	struct event	 ev, *evp;
	const redisReply *f;
	char		**kv, err[200];
	size_t		 i;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return;
	f = e->element[1];
	if (f->type != REDIS_REPLY_ARRAY) {
		memset(&ev, 0, sizeof(ev));
		ev.stream = s;
		str_copy(ev.entry, sizeof(ev.entry), e->element[0]->str);
		evp = &ev;
		adapter_ack(ad, &evp, 1);
		return;
	}
	kv = xcalloc(f->elements + 1, sizeof(*kv));
	for (i = 0; i < f->elements; i++)
		kv[i] = f->element[i]->str != NULL ? f->element[i]->str : "";
	if (event_parse(&ev, kv, f->elements, err, sizeof(err)) == -1) {
		ev.stream = s;
		str_copy(ev.entry, sizeof(ev.entry), e->element[0]->str);
		ev.deliveries = deliveries;
		evp = &ev;
		if (state_dlq(ad, &ev, err) == 0)
			adapter_ack(ad, &evp, 1);
		event_clear(&ev);
		free(kv);
		return;
	}
	free(kv);
	ev.stream = s;
	ev.deliveries = deliveries;
	str_copy(ev.entry, sizeof(ev.entry), e->element[0]->str);
	if (g->n == g->cap) {
		g->cap = g->cap == 0 ? 64 : g->cap * 2;
		g->ev = xreallocarray(g->ev, g->cap, sizeof(*g->ev));
	}
	g->ev[g->n++] = ev;
}

/* Process and release what was read. */
static void
got_process(struct adapter *ad, struct got *g)
{
	size_t	 i;

	if (g->n > 0)
		batch_process(ad, g->ev, g->n);
	for (i = 0; i < g->n; i++)
		event_clear(&g->ev[i]);
	free(g->ev);
	memset(g, 0, sizeof(*g));
}

/*
 * Read with XREADGROUP: ids[i] per ready stream ("0"-based cursor for
 * our PEL, ">" for new entries).  Returns the number of entries, -1 on
 * a Redis failure.  Cursors advance to the last entry read.
 */
static int
adapter_xread(struct adapter *ad, bool pel, int64_t block, struct got *g)
{
	const char	**v;
	size_t		 *l, n = 0, i, j, s, idx[64];
	char		  cnt[24], blk[24];
	redisReply	 *rep, *sr;
	struct timeval	  tv;
	int		  total = 0;

	v = xcalloc(12 + 2 * ad->nst, sizeof(*v));
	l = xcalloc(12 + 2 * ad->nst, sizeof(*l));
	snprintf(cnt, sizeof(cnt), "%lld", (long long)ad->conf->adapter_batch);
	snprintf(blk, sizeof(blk), "%lld", (long long)block);
	v[n++] = "XREADGROUP"; v[n++] = "GROUP"; v[n++] = ad->group;
	v[n++] = ad->consumer; v[n++] = "COUNT"; v[n++] = cnt;
	if (!pel) {
		v[n++] = "BLOCK";
		v[n++] = blk;
	}
	v[n++] = "STREAMS";
	for (i = 0, j = 0; i < ad->nst; i++)
		if (ad->st[i].ready && (!pel || ad->st[i].scan[0] != '\0'))
			idx[j++] = i;
	for (i = 0; i < j; i++)
		v[n++] = ad->st[idx[i]].name;
	for (i = 0; i < j; i++)
		v[n++] = pel ? ad->st[idx[i]].scan : ">";
	for (i = 0; i < n; i++)
		l[i] = strlen(v[i]);
	if (j == 0) {
		free(v);
		free(l);
		return 0;
	}
	if (!pel && redis_ensure(&ad->r) == 0) {
		tv.tv_sec = (block + ad->conf->redis_timeout_ms) / 1000;
		tv.tv_usec = (block + ad->conf->redis_timeout_ms) % 1000 * 1000;
		redisSetTimeout(ad->r.c, tv);
	}
	rep = redis_cmd(&ad->r, (int)n, v, l);
	if (!pel && ad->r.c != NULL) {
		tv.tv_sec = ad->conf->redis_timeout_ms / 1000;
		tv.tv_usec = ad->conf->redis_timeout_ms % 1000 * 1000;
		redisSetTimeout(ad->r.c, tv);
	}
	free(v);
	free(l);
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ERROR) {
		if (!redis_is_error(rep, "NOGROUP"))
			log_warnx("XREADGROUP: %s", rep->str);
		adapter_lost_group(ad, rep);
		freeReplyObject(rep);
		return -1;
	}
	if (pel)
		for (i = 0; i < j; i++)
			ad->st[idx[i]].scan[0] = '\0';	/* done unless more */
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		sr = rep->element[i];
		if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
		    (s = stream_index(ad, sr->element[0]->str)) == ad->nst)
			continue;
		for (j = 0; j < sr->element[1]->elements; j++) {
			got_entry(ad, g, s, sr->element[1]->element[j],
			    pel ? 0 : 1);
			total++;
		}
		if (pel && sr->element[1]->elements > 0)
			str_copy(ad->st[s].scan, sizeof(ad->st[s].scan),
			    sr->element[1]->element[j - 1]->element[0]->str);
	}
	freeReplyObject(rep);
	return total;
}

/* Re-read our own PEL from the start, one page per call. */
static int
adapter_read_pel(struct adapter *ad)
{
	struct got	 g = { 0 };
	size_t		 i;
	bool		 more = false;
	int		 n;

	for (i = 0; i < ad->nst; i++)
		if (ad->st[i].ready && ad->st[i].scan[0] == '\0' &&
		    ad->need_pel)
			str_copy(ad->st[i].scan, sizeof(ad->st[i].scan), "0");
	ad->need_pel = false;
	if ((n = adapter_xread(ad, true, 0, &g)) < 0)
		return -1;
	got_process(ad, &g);
	for (i = 0; i < ad->nst; i++)
		more |= ad->st[i].scan[0] != '\0';
	if (more)
		ad->need_pel = true;	/* continue paging next round */
	if (n > 0)
		log_info("re-read %d pending entries", n);
	return n;
}

/* Whether an entry of stream s read by a claim is due for processing. */
static bool
adapter_due(struct adapter *ad, size_t s, const char *id, int64_t now)
{
	struct retry_slot	*slot;
	char			 key[80];

	snprintf(key, sizeof(key), "%zu/%s", s, id);
	slot = retry_map_get(&ad->retries, key);
	return slot == NULL || slot->due_ms <= now;
}

/* XAUTOCLAIM entries idle past claim_idle_ms on each stream. */
static int
adapter_claim(struct adapter *ad)
{
	struct got	 g = { 0 };
	redisReply	*rep, *e;
	int64_t		 now = time_mono_ms();
	size_t		 s, i;
	int		 n = 0;

	for (s = 0; s < ad->nst; s++) {
		if (!ad->st[s].ready)
			continue;
		rep = redis_cmdf(&ad->r, "XAUTOCLAIM %s %s %s %lld %s COUNT "
		    "%lld", ad->st[s].name, ad->group, ad->consumer,
		    (long long)ad->conf->adapter_claim_idle_ms,
		    ad->st[s].claim, (long long)ad->conf->adapter_batch);
		if (rep == NULL)
			break;
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
			adapter_lost_group(ad, rep);
			freeReplyObject(rep);
			break;
		}
		str_copy(ad->st[s].claim, sizeof(ad->st[s].claim),
		    rep->element[0]->str != NULL ? rep->element[0]->str :
		    "0-0");
		for (i = 0; i < rep->element[1]->elements; i++) {
			e = rep->element[1]->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    !adapter_due(ad, s, e->element[0]->str, now))
				continue;
			got_entry(ad, &g, s, e, 0);
			n++;
		}
		freeReplyObject(rep);
	}
	if (n > 0)
		log_info("claimed %d entries idle over %lld ms", n,
		    (long long)ad->conf->adapter_claim_idle_ms);
	got_process(ad, &g);
	return n;
}

/* Forget consumers idle for an hour that hold nothing. */
static void
adapter_forget_dead(struct adapter *ad)
{
	redisReply	*rep, *c, *d;
	const char	*name;
	long long	 pending, idle;
	size_t		 s, i, k;

	for (s = 0; s < ad->nst; s++) {
		if (!ad->st[s].ready || (rep = redis_cmdf(&ad->r,
		    "XINFO CONSUMERS %s %s", ad->st[s].name, ad->group)) ==
		    NULL)
			return;
		for (i = 0; rep->type == REDIS_REPLY_ARRAY &&
		    i < rep->elements; i++) {
			c = rep->element[i];
			name = NULL;
			pending = idle = -1;
			for (k = 0; c->type == REDIS_REPLY_ARRAY &&
			    k + 1 < c->elements; k += 2) {
				if (strcmp(c->element[k]->str, "name") == 0)
					name = c->element[k + 1]->str;
				else if (strcmp(c->element[k]->str,
				    "pending") == 0)
					pending = c->element[k + 1]->integer;
				else if (strcmp(c->element[k]->str,
				    "idle") == 0)
					idle = c->element[k + 1]->integer;
			}
			if (name == NULL || pending != 0 ||
			    idle < DEAD_CONSUMER_MS ||
			    strcmp(name, ad->consumer) == 0)
				continue;
			if ((d = redis_cmdf(&ad->r, "XGROUP DELCONSUMER %s %s "
			    "%s", ad->st[s].name, ad->group, name)) != NULL) {
				log_info("forgot idle consumer %s", name);
				freeReplyObject(d);
			}
		}
		freeReplyObject(rep);
	}
}

/* Append to ids the entries of stream s listed by XPENDING that are due. */
static int
adapter_due_ids(struct adapter *ad, size_t s, int64_t now, char ***ids,
    int64_t **dl, size_t *nids, int64_t *min_idle)
{
	struct retry_slot	*slot;
	redisReply		*rep, *e;
	char			 start[56] = "-", key[80];
	size_t			 i;
	int64_t			 cap = ad->conf->adapter_batch;

	for (;;) {
		rep = redis_cmdf(&ad->r, "XPENDING %s %s %s + 500 %s",
		    ad->st[s].name, ad->group, start, ad->consumer);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
			adapter_lost_group(ad, rep);
			if (rep != NULL)
				freeReplyObject(rep);
			return -1;
		}
		for (i = 0; i < rep->elements; i++) {
			e = rep->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 4)
				continue;
			snprintf(key, sizeof(key), "%zu/%s", s,
			    e->element[0]->str);
			slot = retry_map_put(&ad->retries, key);
			slot->seen = true;
			if (slot->due_ms > now || (int64_t)*nids >= cap)
				continue;
			*ids = xreallocarray(*ids, *nids + 1, sizeof(**ids));
			*dl = xreallocarray(*dl, *nids + 1, sizeof(**dl));
			(*ids)[*nids] = xstrdup(e->element[0]->str);
			(*dl)[*nids] = e->element[3]->integer + 1;
			(*nids)++;
			if (e->element[2]->integer < *min_idle)
				*min_idle = e->element[2]->integer;
		}
		if (rep->elements < 500) {
			freeReplyObject(rep);
			return 0;
		}
		snprintf(start, sizeof(start), "(%s",
		    rep->element[rep->elements - 1]->element[0]->str);
		freeReplyObject(rep);
	}
}

/* XCLAIM the due ids of stream s back to ourselves and collect them. */
static int
adapter_reclaim(struct adapter *ad, size_t s, char **ids, int64_t *dl,
    size_t n, int64_t min_idle, struct got *g)
{
	const char	**v;
	size_t		 *l, k = 0, i, j;
	char		  idle[24];
	redisReply	 *rep, *e;
	int		  got = 0;

	v = xcalloc(n + 6, sizeof(*v));
	l = xcalloc(n + 6, sizeof(*l));
	/* Only entries still idle as long as we saw them: a peer that just
	 * claimed one keeps it. */
	snprintf(idle, sizeof(idle), "%lld", (long long)(min_idle > 1 ?
	    min_idle - 1 : 0));
	v[k++] = "XCLAIM"; v[k++] = ad->st[s].name; v[k++] = ad->group;
	v[k++] = ad->consumer; v[k++] = idle;
	for (i = 0; i < n; i++)
		v[k++] = ids[i];
	for (i = 0; i < k; i++)
		l[i] = strlen(v[i]);
	rep = redis_cmd(&ad->r, (int)k, v, l);
	free(v);
	free(l);
	if (rep == NULL)
		return -1;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
		e = rep->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		for (j = 0; j < n && strcmp(ids[j], e->element[0]->str) != 0;
		    j++)
			continue;
		got_entry(ad, g, s, e, j < n ? dl[j] : 0);
		got++;
	}
	freeReplyObject(rep);
	return got;
}

/* Retry our pending entries whose time has come. */
static int
adapter_retry(struct adapter *ad)
{
	struct got	 g = { 0 };
	char		**ids;
	int64_t		*dl, now = time_mono_ms(), min_idle;
	size_t		 s, i, nids;
	int		 n = 0, k;

	retry_map_unmark(&ad->retries);
	for (s = 0; s < ad->nst; s++) {
		if (!ad->st[s].ready)
			continue;
		ids = NULL;
		dl = NULL;
		nids = 0;
		min_idle = INT64_MAX;
		if (adapter_due_ids(ad, s, now, &ids, &dl, &nids,
		    &min_idle) == -1) {
			n = -1;
			break;
		}
		if (nids > 0 && (k = adapter_reclaim(ad, s, ids, dl, nids,
		    min_idle, &g)) > 0)
			n += k;
		for (i = 0; i < nids; i++)
			free(ids[i]);
		free(ids);
		free(dl);
	}
	/* Entries no longer ours (acked, claimed by a peer) are forgotten. */
	if (n >= 0)
		retry_map_sweep(&ad->retries);
	got_process(ad, &g);
	return n;
}

/* Read new entries, blocking at most block ms. */
static int
adapter_read_new(struct adapter *ad, int64_t block)
{
	struct got	 g = { 0 };
	int		 n;

	if ((n = adapter_xread(ad, false, block, &g)) > 0)
		got_process(ad, &g);
	return n;
}

static void
adapter_stats(struct adapter *ad)
{
	log_info("%s: applied %llu, skipped %llu, retried %llu, dead letters "
	    "%llu, identifiers posted %llu, pending retries %zu",
	    ad->be->system, (unsigned long long)ad->n_applied,
	    (unsigned long long)ad->n_skipped,
	    (unsigned long long)ad->n_retried, (unsigned long long)ad->n_dlq,
	    (unsigned long long)ad->n_feedback, ad->retries.n);
}

/* One round of the loop (see the top of the file). */
static void
adapter_round(struct adapter *ad, int64_t *next_stats)
{
	int64_t	 now = time_mono_ms(), block, due;

	if (now >= ad->next_status) {
		state_status(ad);
		ad->next_status = now + STATUS_EVERY_MS;
	}
	if (now < ad->pause_until) {
		block = ad->pause_until - now;
		sleep_ms(block < 1000 ? block : 1000, ad->stop);
		return;
	}
	if (now >= *next_stats) {
		if (ad->n_batches > 0)
			adapter_stats(ad);
		*next_stats = now + STATS_EVERY_MS;
	}
	if (adapter_groups(ad) == 0) {
		/* No stream yet (nothing published), or Redis is down. */
		if (ad->r.c == NULL)
			redis_backoff(&ad->r, ad->stop);
		else
			sleep_ms(ad->conf->adapter_block_ms, ad->stop);
		return;
	}
	if (ad->need_pel) {
		if (adapter_read_pel(ad) < 0)
			redis_backoff(&ad->r, ad->stop);
		return;
	}
	if (now >= ad->next_claim) {
		ad->next_claim = now + ad->conf->adapter_claim_idle_ms / 2;
		adapter_forget_dead(ad);
		if (adapter_claim(ad) != 0)
			return;
	}
	due = retry_map_next_due(&ad->retries);
	if (due <= now) {
		if (adapter_retry(ad) < 0)
			redis_backoff(&ad->r, ad->stop);
		/* Nothing due after all: do not spin on the same due time. */
		else if (retry_map_next_due(&ad->retries) <= now)
			sleep_ms(10, ad->stop);
		return;
	}
	block = ad->conf->adapter_block_ms;
	if (due - now < block)
		block = due - now;
	if (ad->next_claim - now < block)
		block = ad->next_claim - now;
	if (block < 1)
		block = 1;
	if (adapter_read_new(ad, block) < 0)
		redis_backoff(&ad->r, ad->stop);
}

int
adapter_run(const struct conf *c, struct backend *be,
    const struct adapter_opts *o, volatile int *stop)
{
	struct adapter	 ad;
	int64_t		 next_stats;

	if (adapter_setup(&ad, c, be, o) == -1)
		return -1;
	ad.stop = stop;
	be->http->pre_hook = adapter_keepalive;
	be->http->pre_arg = &ad;
	log_info("consuming %s%s as %s in group %s", ad.st[0].name,
	    ad.nst > 1 ? " (partitioned)" : "", ad.consumer, ad.group);
	next_stats = time_mono_ms() + STATS_EVERY_MS;
	while (!*stop) {
		if (o->hup != NULL && *o->hup) {
			*o->hup = 0;
			log_reopen(c->log_file);
		}
		adapter_round(&ad, &next_stats);
	}
	adapter_stats(&ad);
	log_info("stopped cleanly");
	be->http->pre_hook = NULL;
	adapter_teardown(&ad);
	return 0;
}
