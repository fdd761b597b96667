/*
 * Rolodex adapters - the state the consumer core keeps in Redis (see
 * adapter_int.h for the keys).
 *
 * Every decision that two instances could race on is one Lua script, so
 * Redis runs it atomically:
 *  - BEGIN compares each event with the aggregate's applied version and
 *    event id (duplicate, older, or go) and with the highest version an
 *    instance went on to write (attempted: a write whose outcome is in
 *    doubt, e.g. a 5xx after the system applied it, may have landed, so
 *    nothing older may follow it); for those that go it takes the
 *    party's lease (or reports it busy) and records the attempt;
 *  - COMMIT records a written version, never lowering one (a slower
 *    instance finishing late cannot move the guard back), and forgets
 *    attempts it covers;
 *  - FEEDBACK posts an identifier once: only when it differs from the
 *    one posted last for that party;
 *  - DLQ adds the dead letter and acknowledges the entry together, and
 *    only while the entry is still pending (a peer may have finished it).
 * A Redis failure is reported as -1; the caller keeps the entries
 * pending, so nothing is lost, at worst written twice (idempotently).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter_int.h"
#include "conf.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "xalloc.h"

static const char lua_begin[] =
    "local out = {}\n"
    "for i = 1, #KEYS - 2 do\n"
    "  local b = 3 + (i - 1) * 3\n"
    "  local v = tonumber(ARGV[b + 1])\n"
    "  local r = 'go'\n"
    "  local cur = redis.call('HGET', KEYS[1], ARGV[b])\n"
    "  if cur then\n"
    "    local cv, ce = string.match(cur, '^(%d+) (%S+)')\n"
    "    if ce == ARGV[b + 2] then r = 'dup'\n"
    "    elseif tonumber(cv) >= v then r = 'stale' end\n"
    "  end\n"
    "  local at = tonumber(redis.call('HGET', KEYS[2], ARGV[b]) or '0')\n"
    "  if r == 'go' and at > v then r = 'stale' end\n"
    "  if r == 'go' then\n"
    "    local h = redis.call('GET', KEYS[i + 2])\n"
    "    if h and h ~= ARGV[1] then r = 'busy'\n"
    "    else\n"
    "      redis.call('SET', KEYS[i + 2], ARGV[1], 'PX', ARGV[2])\n"
    "      if at < v then redis.call('HSET', KEYS[2], ARGV[b], ARGV[b + 1])"
    " end\n"
    "    end\n"
    "  end\n"
    "  out[i] = r\n"
    "end\n"
    "return out\n";

static const char lua_commit[] =
    "for b = 1, #ARGV, 4 do\n"
    "  local v = tonumber(ARGV[b + 1])\n"
    "  local cur = redis.call('HGET', KEYS[1], ARGV[b])\n"
    "  local cv = 0\n"
    "  if cur then cv = tonumber(string.match(cur, '^(%d+)')) end\n"
    "  if cv < v then\n"
    "    redis.call('HSET', KEYS[1], ARGV[b],\n"
    "      ARGV[b + 1] .. ' ' .. ARGV[b + 2] .. ' ' .. ARGV[b + 3])\n"
    "  end\n"
    "  local at = redis.call('HGET', KEYS[2], ARGV[b])\n"
    "  if at and tonumber(at) <= v then redis.call('HDEL', KEYS[2], ARGV[b])"
    " end\n"
    "end\n"
    "return 1\n";

static const char lua_lease[] =
    "local h = redis.call('GET', KEYS[1])\n"
    "if h and h ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n";

static const char lua_release[] =
    "for i = 1, #KEYS do\n"
    "  if redis.call('GET', KEYS[i]) == ARGV[1] then\n"
    "    redis.call('DEL', KEYS[i])\n"
    "  end\n"
    "end\n"
    "return 1\n";

static const char lua_renew[] =
    "local lost = 0\n"
    "for i = 1, #KEYS do\n"
    "  if redis.call('GET', KEYS[i]) == ARGV[1] then\n"
    "    redis.call('PEXPIRE', KEYS[i], ARGV[2])\n"
    "  else lost = lost + 1 end\n"
    "end\n"
    "return lost\n";

static const char lua_feedback[] =
    "local n = 0\n"
    "for b = 2, #ARGV, 5 do\n"
    "  if redis.call('HGET', KEYS[1], ARGV[b]) ~= ARGV[b + 1] then\n"
    "    redis.call('XADD', KEYS[2], '*', 'id', ARGV[b + 2],\n"
    "      'type', 'ExternalIdentifierAssigned', 'source', ARGV[1],\n"
    "      'specversion', '1.0', 'subject', ARGV[b], 'time', ARGV[b + 3],\n"
    "      'datacontenttype', 'application/json', 'data', ARGV[b + 4])\n"
    "    redis.call('HSET', KEYS[1], ARGV[b], ARGV[b + 1])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

static const char lua_dlq[] =
    "local p = redis.call('XPENDING', KEYS[2], ARGV[1], ARGV[2], ARGV[2],"
    " 1)\n"
    "if #p == 0 then return 0 end\n"
    "redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))\n"
    "redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])\n"
    "return 1\n";

/* A growing argv for redis_cmd(); strings added with argv_addf are owned. */
struct argv {
	const char	**v;
	size_t		 *len;
	size_t		  n, cap;
	char		**own;
	size_t		  nown;
};

static void
argv_add(struct argv *a, const char *s)
{
	if (a->n == a->cap) {
		a->cap = a->cap == 0 ? 16 : a->cap * 2;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
		a->len = xreallocarray(a->len, a->cap, sizeof(*a->len));
		a->own = xreallocarray(a->own, a->cap, sizeof(*a->own));
	}
	a->v[a->n] = s;
	a->len[a->n] = strlen(s);
	a->n++;
}

static void
argv_addf(struct argv *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
argv_addf(struct argv *a, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		fatalx("%s: out of memory", __func__);
	va_end(ap);
	argv_add(a, s);
	a->own[a->nown++] = s;
}

static void
argv_free(struct argv *a)
{
	size_t	 i;

	for (i = 0; i < a->nown; i++)
		free(a->own[i]);
	free(a->v);
	free(a->len);
	free(a->own);
	memset(a, 0, sizeof(*a));
}

/* Run a, logging an error reply; NULL on any failure. */
static redisReply *
state_cmd(struct adapter *ad, struct argv *a, const char *what)
{
	redisReply	*rep;

	rep = redis_cmd(&ad->r, (int)a->n, a->v, a->len);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		log_warnx("%s: %s", what, rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* Start an EVAL of script with nkeys keys (added by the caller next). */
static void
eval_start(struct argv *a, const char *script, size_t nkeys)
{
	argv_add(a, "EVAL");
	argv_add(a, script);
	argv_addf(a, "%zu", nkeys);
}

static void
held_add(struct adapter *ad, const char *key)
{
	size_t	 i;

	for (i = 0; i < ad->nheld; i++)
		if (strcmp(ad->held[i], key) == 0)
			return;
	ad->held = xreallocarray(ad->held, ad->nheld + 1, sizeof(*ad->held));
	ad->held[ad->nheld++] = xstrdup(key);
}

int
state_begin(struct adapter *ad, struct unit **u, size_t n)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	const char	*r;
	size_t		 i;
	int		 rc = -1;

	if (n == 0)
		return 0;
	eval_start(&a, lua_begin, n + 2);
	argv_add(&a, ad->k_applied);
	argv_add(&a, ad->k_attempted);
	for (i = 0; i < n; i++)
		argv_addf(&a, "%s%s", ad->k_lease, u[i]->owner);
	argv_add(&a, ad->token);
	argv_addf(&a, "%lld", (long long)ad->lease_ms);
	for (i = 0; i < n; i++) {
		argv_add(&a, u[i]->ev[0]->subject);
		argv_addf(&a, "%lld", (long long)u[i]->ev[0]->version);
		argv_add(&a, u[i]->ev[0]->id);
	}
	if ((rep = state_cmd(ad, &a, "guard begin")) == NULL)
		goto out;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != n) {
		log_warnx("%s: unexpected reply", __func__);
		goto free;
	}
	for (i = 0; i < n; i++) {
		r = rep->element[i]->str != NULL ? rep->element[i]->str : "";
		if (strcmp(r, "go") == 0)
			held_add(ad, a.v[5 + i]);
		else if (strcmp(r, "busy") == 0)
			u[i]->st = U_BUSY;
		else
			u[i]->st = U_SKIP;
	}
	ad->renewed = time_mono_ms();
	rc = 0;
free:
	freeReplyObject(rep);
out:
	argv_free(&a);
	return rc;
}

int
state_commit(struct adapter *ad, struct unit **u, size_t n)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	size_t		 i, k = 0;

	eval_start(&a, lua_commit, 2);
	argv_add(&a, ad->k_applied);
	argv_add(&a, ad->k_attempted);
	for (i = 0; i < n; i++) {
		if (u[i]->st != U_DONE || u[i]->flag == '\0')
			continue;
		argv_add(&a, u[i]->ev[0]->subject);
		argv_addf(&a, "%lld", (long long)u[i]->ev[0]->version);
		argv_add(&a, u[i]->ev[0]->id);
		argv_addf(&a, "%c", u[i]->flag);
		k++;
	}
	if (k == 0) {
		argv_free(&a);
		return 0;
	}
	rep = state_cmd(ad, &a, "guard commit");
	argv_free(&a);
	if (rep == NULL)
		return -1;
	freeReplyObject(rep);
	return 0;
}

int
state_lease(struct adapter *ad, const char *party)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	int		 rc = -1;

	eval_start(&a, lua_lease, 1);
	argv_addf(&a, "%s%s", ad->k_lease, party);
	argv_add(&a, ad->token);
	argv_addf(&a, "%lld", (long long)ad->lease_ms);
	if ((rep = state_cmd(ad, &a, "lease")) != NULL) {
		rc = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1 ?
		    0 : 1;
		if (rc == 0)
			held_add(ad, a.v[3]);
		freeReplyObject(rep);
	}
	argv_free(&a);
	return rc;
}

/* Run script over every held lease key with the token (and args). */
static redisReply *
state_held_eval(struct adapter *ad, const char *script, bool ttl)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	size_t		 i;

	eval_start(&a, script, ad->nheld);
	for (i = 0; i < ad->nheld; i++)
		argv_add(&a, ad->held[i]);
	argv_add(&a, ad->token);
	if (ttl)
		argv_addf(&a, "%lld", (long long)ad->lease_ms);
	rep = state_cmd(ad, &a, "lease");
	argv_free(&a);
	return rep;
}

void
state_release_all(struct adapter *ad)
{
	redisReply	*rep;
	size_t		 i;

	if (ad->nheld > 0 &&
	    (rep = state_held_eval(ad, lua_release, false)) != NULL)
		freeReplyObject(rep);
	/* A lease we failed to release expires by itself. */
	for (i = 0; i < ad->nheld; i++)
		free(ad->held[i]);
	free(ad->held);
	ad->held = NULL;
	ad->nheld = 0;
}

void
state_renew(struct adapter *ad)
{
	redisReply	*rep;

	if (ad->nheld == 0)
		return;
	if ((rep = state_held_eval(ad, lua_renew, true)) == NULL)
		return;
	if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
		log_warnx("%lld party lease(s) expired while writing; "
		    "raise [adapter] http_timeout_ms headroom",
		    (long long)rep->integer);
	freeReplyObject(rep);
	ad->renewed = time_mono_ms();
}

int
state_feedback(struct adapter *ad, struct op **ops, size_t n)
{
	struct argv	 a = { 0 };
	struct uuid	 u;
	redisReply	*rep;
	json_object	*d;
	char		 id[UUID_STRLEN + 1], now[32];
	size_t		 i;
	int		 rc = -1;

	if (n == 0)
		return 0;
	eval_start(&a, lua_feedback, 2);
	argv_add(&a, ad->k_extid);
	argv_add(&a, ad->conf->redis_feedback_stream);
	argv_add(&a, ad->source);
	time_rfc3339_now(now);
	for (i = 0; i < n; i++) {
		uuid_v7(&u);
		uuid_fmt(&u, id);
		d = json_object_new_object();
		jsonx_add_str(d, "system_name", ad->be->system);
		jsonx_add_str(d, "identifier", ops[i]->ext_id);
		argv_add(&a, ops[i]->party);
		argv_add(&a, ops[i]->ext_id);
		argv_addf(&a, "%s", id);
		argv_addf(&a, "%s", now);
		argv_addf(&a, "%s", jsonx_str(d));
		json_object_put(d);
	}
	if ((rep = state_cmd(ad, &a, "feedback")) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER)
			ad->n_feedback += (uint64_t)rep->integer;
		freeReplyObject(rep);
		rc = 0;
	}
	argv_free(&a);
	return rc;
}

int
state_dlq(struct adapter *ad, struct event *ev, const char *reason)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	char		 now[32];
	size_t		 i;
	int		 rc = -1;

	eval_start(&a, lua_dlq, 2);
	argv_add(&a, ad->k_dlq);
	argv_add(&a, ad->st[ev->stream].name);
	argv_add(&a, ad->group);
	argv_add(&a, ev->entry);
	for (i = 0; i + 1 < ev->nkv; i += 2) {
		argv_add(&a, ev->kv[i]);
		argv_add(&a, ev->kv[i + 1]);
	}
	time_rfc3339_now(now);
	argv_add(&a, "dlq_stream");
	argv_add(&a, ad->st[ev->stream].name);
	argv_add(&a, "dlq_entry");
	argv_add(&a, ev->entry);
	argv_add(&a, "dlq_reason");
	argv_add(&a, reason);
	argv_add(&a, "dlq_deliveries");
	argv_addf(&a, "%lld", (long long)ev->deliveries);
	argv_add(&a, "dlq_consumer");
	argv_add(&a, ad->consumer);
	argv_add(&a, "dlq_time");
	argv_addf(&a, "%s", now);
	if ((rep = state_cmd(ad, &a, "dead letter")) != NULL) {
		if (rep->type == REDIS_REPLY_INTEGER && rep->integer == 1) {
			ad->n_dlq++;
			log_warnx("dead letter: %s %s v%lld (entry %s, %lld "
			    "deliveries): %s", ev->type, ev->subject,
			    (long long)ev->version, ev->entry,
			    (long long)ev->deliveries, reason);
		}
		freeReplyObject(rep);
		rc = 0;
	}
	argv_free(&a);
	return rc;
}

int64_t
state_deliveries(struct adapter *ad, const struct event *ev)
{
	redisReply	*rep, *e;
	int64_t		 n = -1;

	rep = redis_cmdf(&ad->r, "XPENDING %s %s %s %s 1",
	    ad->st[ev->stream].name, ad->group, ev->entry, ev->entry);
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 1 &&
	    (e = rep->element[0])->type == REDIS_REPLY_ARRAY &&
	    e->elements == 4 && e->element[3]->type == REDIS_REPLY_INTEGER)
		n = e->element[3]->integer;
	freeReplyObject(rep);
	return n;
}

/* The person a relationship belongs to, from the event or our record. */
int
state_rel_owners(struct adapter *ad, struct unit **u, size_t n)
{
	struct argv	 a = { 0 };
	redisReply	*rep, *e;
	size_t		 i, k = 0;
	int		 rc = -1;

	argv_add(&a, "HMGET");
	argv_add(&a, ad->k_relowner);
	for (i = 0; i < n; i++)
		if (u[i]->ev[0]->agg == AGG_REL) {
			argv_add(&a, u[i]->ev[0]->subject);
			k++;
		}
	if (k == 0) {
		argv_free(&a);
		return 0;
	}
	if ((rep = state_cmd(ad, &a, "relationship owners")) == NULL)
		goto out;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != k)
		goto free;
	for (i = 0, k = 0; i < n; i++) {
		if (u[i]->ev[0]->agg != AGG_REL)
			continue;
		e = rep->element[k++];
		if (e->type == REDIS_REPLY_STRING && e->len == UUID_STRLEN)
			memcpy(u[i]->old_person, e->str, UUID_STRLEN + 1);
		if (u[i]->ev[0]->from[0] != '\0')
			memcpy(u[i]->owner, u[i]->ev[0]->from,
			    UUID_STRLEN + 1);
		else if (u[i]->old_person[0] != '\0')
			memcpy(u[i]->owner, u[i]->old_person,
			    UUID_STRLEN + 1);
		/* The previous owner only matters when it changed. */
		if (strcmp(u[i]->old_person, u[i]->owner) == 0)
			u[i]->old_person[0] = '\0';
	}
	rc = 0;
free:
	freeReplyObject(rep);
out:
	argv_free(&a);
	return rc;
}

/* "version event L|D" -> state of the party in the target. */
static enum org_state
applied_state(const redisReply *e)
{
	const char	*sp;

	if (e->type != REDIS_REPLY_STRING || e->str == NULL ||
	    (sp = strrchr(e->str, ' ')) == NULL)
		return ORG_UNKNOWN;
	return sp[1] == 'D' ? ORG_GONE : ORG_LIVE;
}

int
state_rel_load(struct adapter *ad, const char *person,
    struct employment **emps, size_t *nemp, char *link, size_t linksz,
    enum org_state *pstate)
{
	redisReply	*rep[3] = { NULL, NULL, NULL }, *h;
	const char	*argv[3][3];
	size_t		 lens[3][3], i, j;
	char		*emp_key;
	int		 rc = -1;

	*emps = NULL;
	*nemp = 0;
	link[0] = '\0';
	emp_key = xasprintf("%s%s", ad->k_emp, person);
	argv[0][0] = "HGETALL", argv[0][1] = emp_key;
	argv[1][0] = "HGET", argv[1][1] = ad->k_link, argv[1][2] = person;
	argv[2][0] = "HGET", argv[2][1] = ad->k_applied, argv[2][2] = person;
	for (i = 0; i < 3; i++) {
		for (j = 0; j < (i == 0 ? 2U : 3U); j++)
			lens[i][j] = strlen(argv[i][j]);
		if (redis_append(&ad->r, i == 0 ? 2 : 3, argv[i],
		    lens[i]) == -1)
			goto out;
	}
	if (redis_read_replies(&ad->r, rep, 3) == -1)
		goto out;
	if ((h = rep[0])->type != REDIS_REPLY_ARRAY) {
		log_warnx("%s: HGETALL: unexpected reply", __func__);
		goto free;
	}
	*emps = xcalloc(h->elements / 2 + 1, sizeof(**emps));
	for (i = 0; i + 1 < h->elements; i += 2)
		if (employment_parse(&(*emps)[*nemp], h->element[i]->str,
		    h->element[i + 1]->str) == 0)
			(*nemp)++;
	if (rep[1]->type == REDIS_REPLY_STRING)
		str_copy(link, linksz, rep[1]->str);
	*pstate = applied_state(rep[2]);
	rc = 0;
free:
	for (i = 0; i < 3; i++)
		freeReplyObject(rep[i]);
out:
	free(emp_key);
	return rc;
}

int
state_org_states(struct adapter *ad, struct employment *e, size_t n)
{
	struct argv	 a = { 0 };
	redisReply	*rep;
	size_t		 i;
	int		 rc = -1;

	if (n == 0)
		return 0;
	argv_add(&a, "HMGET");
	argv_add(&a, ad->k_applied);
	for (i = 0; i < n; i++)
		argv_add(&a, e[i].org);
	if ((rep = state_cmd(ad, &a, "organisation states")) == NULL)
		goto out;
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements == n) {
		for (i = 0; i < n; i++)
			e[i].state = applied_state(rep->element[i]);
		rc = 0;
	}
	freeReplyObject(rep);
out:
	argv_free(&a);
	return rc;
}

/* Queue one command of up to 4 words on the pipeline. */
static int
pipe_cmd(struct adapter *ad, const char *w0, const char *w1, const char *w2,
    const char *w3)
{
	const char	*v[4] = { w0, w1, w2, w3 };
	size_t		 len[4], n;

	for (n = 0; n < 4 && v[n] != NULL; n++)
		len[n] = strlen(v[n]);
	return redis_append(&ad->r, (int)n, v, len);
}

int
state_rel_store(struct adapter *ad, struct unit *u)
{
	redisReply	*rep[8];
	char		*k1 = NULL, *k2 = NULL;
	const char	*rid = u->ev[0]->subject;
	size_t		 n = 0, i;
	int		 rc = -1;

	if (u->emp_person[0] != '\0') {
		k1 = xasprintf("%s%s", ad->k_emp, u->emp_person);
		if ((u->emp_value[0] != '\0' ? pipe_cmd(ad, "HSET", k1, rid,
		    u->emp_value) : pipe_cmd(ad, "HDEL", k1, rid, NULL)) == -1)
			goto out;
		n++;
	}
	if ((u->ev[0]->action == EVA_DELETE || u->owner[0] == '\0' ?
	    pipe_cmd(ad, "HDEL", ad->k_relowner, rid, NULL) :
	    pipe_cmd(ad, "HSET", ad->k_relowner, rid, u->owner)) == -1)
		goto out;
	n++;
	if (u->old_person[0] != '\0') {
		k2 = xasprintf("%s%s", ad->k_emp, u->old_person);
		if (pipe_cmd(ad, "HDEL", k2, rid, NULL) == -1)
			goto out;
		n++;
	}
	for (i = 0; i < u->nlinks; i++) {
		if ((u->link_org[i][0] != '\0' ? pipe_cmd(ad, "HSET",
		    ad->k_link, u->link_person[i], u->link_org[i]) :
		    pipe_cmd(ad, "HDEL", ad->k_link, u->link_person[i],
		    NULL)) == -1)
			goto out;
		n++;
	}
	if (redis_read_replies(&ad->r, rep, n) == -1)
		goto out;
	rc = 0;
	for (i = 0; i < n; i++) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			log_warnx("%s: %s", __func__, rep[i]->str);
			rc = -1;
		}
		freeReplyObject(rep[i]);
	}
out:
	free(k1);
	free(k2);
	return rc;
}

/*
 * Record the person of each relationship upsert among the n units
 * before anything is written for it: a RelationshipDeleted names no
 * person, and a write that lands before a crash must still be undone
 * by the delete.
 */
int
state_rel_owner_set(struct adapter *ad, struct unit **u, size_t n)
{
	redisReply	*rep;
	size_t		 i, k = 0;
	int		 rc = 0;

	for (i = 0; i < n; i++) {
		if (u[i]->st != U_NEW || u[i]->ev[0]->agg != AGG_REL ||
		    u[i]->ev[0]->action != EVA_UPSERT ||
		    strcmp(u[i]->owner, u[i]->ev[0]->subject) == 0)
			continue;
		if (pipe_cmd(ad, "HSET", ad->k_relowner, u[i]->ev[0]->subject,
		    u[i]->owner) == -1)
			return -1;
		k++;
	}
	for (i = 0; i < k; i++) {
		if (redis_read_replies(&ad->r, &rep, 1) == -1)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(rep);
	}
	return rc;
}

/*
 * Mark the links of the n persons as unknown ("?") before writing them:
 * if the write is lost in doubt (a 5xx after the system applied it, a
 * crash before the ack), the next plan for the person must write again
 * instead of trusting the old value.
 */
int
state_link_doubt(struct adapter *ad, const char **persons, size_t n)
{
	redisReply	*rep;
	size_t		 i;
	int		 rc = 0;

	for (i = 0; i < n; i++)
		if (pipe_cmd(ad, "HSET", ad->k_link, persons[i], "?") == -1)
			return -1;
	for (i = 0; i < n; i++) {
		if (redis_read_replies(&ad->r, &rep, 1) == -1)
			return -1;
		if (rep->type == REDIS_REPLY_ERROR)
			rc = -1;
		freeReplyObject(rep);
	}
	return rc;
}

int
state_person_gone(struct adapter *ad, const char *person)
{
	redisReply	*rep[2];
	char		*k;
	int		 rc = -1;

	k = xasprintf("%s%s", ad->k_emp, person);
	if (pipe_cmd(ad, "DEL", k, NULL, NULL) == 0 &&
	    pipe_cmd(ad, "HDEL", ad->k_link, person, NULL) == 0 &&
	    redis_read_replies(&ad->r, rep, 2) == 0) {
		freeReplyObject(rep[0]);
		freeReplyObject(rep[1]);
		rc = 0;
	}
	free(k);
	return rc;
}

void
state_status(struct adapter *ad)
{
	const char	*v[32];
	size_t		 l[32], n = 0, i;
	char		 num[10][24], now[32], ttl[24];
	redisReply	*rep;

	time_rfc3339_now(now);
	snprintf(num[0], sizeof(num[0]), "%ld", (long)getpid());
	snprintf(num[1], sizeof(num[1]), "%lld",
	    (long long)((time_mono_ms() - ad->started) / 1000));
	snprintf(num[2], sizeof(num[2]), "%llu",
	    (unsigned long long)ad->n_applied);
	snprintf(num[3], sizeof(num[3]), "%llu",
	    (unsigned long long)ad->n_skipped);
	snprintf(num[4], sizeof(num[4]), "%llu",
	    (unsigned long long)ad->n_retried);
	snprintf(num[5], sizeof(num[5]), "%llu", (unsigned long long)ad->n_dlq);
	snprintf(num[6], sizeof(num[6]), "%llu",
	    (unsigned long long)ad->n_feedback);
	snprintf(num[7], sizeof(num[7]), "%llu",
	    (unsigned long long)ad->n_batches);
	snprintf(num[8], sizeof(num[8]), "%zu", ad->retries.n);
	snprintf(num[9], sizeof(num[9]), "%lld", (long long)(ad->pause_until >
	    time_mono_ms() ? ad->pause_until - time_mono_ms() : 0));
	v[n++] = "HSET"; v[n++] = ad->k_status;
	v[n++] = "consumer"; v[n++] = ad->consumer;
	v[n++] = "updated"; v[n++] = now;
	v[n++] = "pid"; v[n++] = num[0];
	v[n++] = "uptime_s"; v[n++] = num[1];
	v[n++] = "applied"; v[n++] = num[2];
	v[n++] = "skipped"; v[n++] = num[3];
	v[n++] = "retried"; v[n++] = num[4];
	v[n++] = "dead_letters"; v[n++] = num[5];
	v[n++] = "feedback"; v[n++] = num[6];
	v[n++] = "batches"; v[n++] = num[7];
	v[n++] = "pending_retries"; v[n++] = num[8];
	v[n++] = "paused_ms"; v[n++] = num[9];
	for (i = 0; i < n; i++)
		l[i] = strlen(v[i]);
	if ((rep = redis_cmd(&ad->r, (int)n, v, l)) != NULL)
		freeReplyObject(rep);
	/* The record outlives a few missed beats, then vanishes. */
	snprintf(ttl, sizeof(ttl), "%lld",
	    (long long)(ad->conf->adapter_block_ms * 3 + 10000));
	v[0] = "PEXPIRE"; v[1] = ad->k_status; v[2] = ttl;
	for (i = 0; i < 3; i++)
		l[i] = strlen(v[i]);
	if ((rep = redis_cmd(&ad->r, 3, v, l)) != NULL)
		freeReplyObject(rep);
}
