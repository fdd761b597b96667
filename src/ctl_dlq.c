/*
 * Rolodex - rolodexctl dlq list|replay|drop and rolodexctl adapter status.
 *
 * An adapter ("salesforce" or "d365") parks an entry the external system
 * rejected for good on its dead-letter stream <[adapter] dlq_prefix><name>,
 * as the original fields followed by dlq_stream, dlq_entry, dlq_reason,
 * dlq_deliveries, dlq_consumer and dlq_time (adapters/adapter_state.c).
 *
 * replay puts the original fields back on the stream they came from, as
 * a new entry, and deletes the dead letter, in one Lua script (so two
 * operators replaying at once publish it once).  Every adapter group sees
 * the new entry; the ones that applied that version already drop it by
 * their version guard.  drop deletes dead letters.
 *
 * adapter status shows, per adapter: its consumer group on each stream
 * (lag, pending, last delivered entry, consumers and how idle each is),
 * the dead letters waiting, and the heartbeat each running instance
 * writes every two seconds.  Text from external systems (reasons) is
 * printed with control characters replaced.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "log.h"
#include "redis.h"
#include "util.h"
#include "xalloc.h"

#define DLQ_PAGE	100

static const char *const adapters[] = { "salesforce", "d365", NULL };

static const char lua_replay[] =
    "local e = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])\n"
    "if #e == 0 then return 0 end\n"
    "local id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))\n"
    "redis.call('XDEL', KEYS[1], ARGV[1])\n"
    "return id\n";

static int
ctl_dlq_usage(void)
{
	fprintf(stderr, "usage: rolodexctl dlq list ADAPTER [--count N]\n"
	    "       rolodexctl dlq replay ADAPTER ENTRY-ID...|--all\n"
	    "       rolodexctl dlq drop ADAPTER ENTRY-ID...|--all\n"
	    "       rolodexctl adapter status [ADAPTER]\n"
	    "ADAPTER is salesforce or d365.\n");
	return 2;
}

static bool
adapter_known(const char *a)
{
	size_t	 i;

	for (i = 0; adapters[i] != NULL; i++)
		if (strcmp(adapters[i], a) == 0)
			return true;
	return false;
}

/* Print s with control characters (and non-ASCII) as '?'. */
static void
print_safe(const char *s, size_t len)
{
	size_t	 i;

	for (i = 0; i < len; i++)
		putchar((unsigned char)s[i] < 0x20 ||
		    (unsigned char)s[i] >= 0x7f ? '?' : s[i]);
}

/* Value of field name in an entry's field array, or NULL. */
static const redisReply *
entry_field(const redisReply *f, const char *name)
{
	size_t	 i;

	for (i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements;
	    i += 2)
		if (f->element[i]->str != NULL &&
		    strcmp(f->element[i]->str, name) == 0)
			return f->element[i + 1];
	return NULL;
}

static void
print_field(const redisReply *f, const char *name, const char *label)
{
	const redisReply	*v = entry_field(f, name);

	printf(" %s=", label);
	if (v != NULL && v->str != NULL)
		print_safe(v->str, v->len);
	else
		printf("-");
}

/* Connect, or say why not. */
static int
ctl_redis(struct ctl *c, struct redis *r)
{
	redis_init(r, &c->conf);
	if (redis_ensure(r) == -1) {
		fprintf(stderr, "rolodexctl: cannot reach Redis at %s:%lld\n",
		    c->conf.redis_host, (long long)c->conf.redis_port);
		return -1;
	}
	return 0;
}

static int
dlq_list(struct redis *r, const char *key, long long count)
{
	const redisReply *v;
	redisReply	*rep, *e;
	size_t		 i;

	if ((rep = redis_cmdf(r, "XRANGE %s - + COUNT %lld", key, count)) ==
	    NULL || rep->type != REDIS_REPLY_ARRAY) {
		if (rep != NULL)
			freeReplyObject(rep);
		return 1;
	}
	for (i = 0; i < rep->elements; i++) {
		e = rep->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
			continue;
		printf("%s", e->element[0]->str);
		print_field(e->element[1], "type", "type");
		print_field(e->element[1], "subject", "subject");
		print_field(e->element[1], "aggregate_version", "version");
		print_field(e->element[1], "id", "event");
		print_field(e->element[1], "dlq_deliveries", "deliveries");
		print_field(e->element[1], "dlq_stream", "stream");
		print_field(e->element[1], "dlq_entry", "entry");
		print_field(e->element[1], "dlq_time", "time");
		printf("\n  reason: ");
		if ((v = entry_field(e->element[1], "dlq_reason")) != NULL &&
		    v->str != NULL)
			print_safe(v->str, v->len);
		printf("\n");
	}
	printf("%zu dead letter%s listed\n", rep->elements,
	    rep->elements == 1 ? "" : "s");
	freeReplyObject(rep);
	return 0;
}

/* Replay one dead letter (entry e of key); 1 done, 0 gone, -1 error. */
static int
dlq_replay_one(struct redis *r, const char *key, const redisReply *e)
{
	const redisReply	*f = e->element[1], *target;
	const char		**v;
	size_t			 *l, n = 0, i;
	redisReply		 *rep;
	int			  rc = -1;

	if ((target = entry_field(f, "dlq_stream")) == NULL ||
	    target->str == NULL) {
		fprintf(stderr, "%s: no dlq_stream field\n",
		    e->element[0]->str);
		return -1;
	}
	v = xcalloc(f->elements + 6, sizeof(*v));
	l = xcalloc(f->elements + 6, sizeof(*l));
	v[n++] = "EVAL"; v[n++] = lua_replay; v[n++] = "2";
	v[n++] = key; v[n++] = target->str; v[n++] = e->element[0]->str;
	for (i = 0; i + 1 < f->elements; i += 2) {
		if (strncmp(f->element[i]->str, "dlq_", 4) == 0)
			continue;
		v[n++] = f->element[i]->str;
		v[n++] = f->element[i + 1]->str;
	}
	for (i = 0; i < n; i++)
		l[i] = strlen(v[i]);
	if ((rep = redis_cmd(r, (int)n, v, l)) != NULL) {
		if (rep->type == REDIS_REPLY_STRING) {
			printf("%s replayed to %s as %s\n", e->element[0]->str,
			    target->str, rep->str);
			rc = 1;
		} else if (rep->type == REDIS_REPLY_INTEGER)
			rc = 0;
		else
			fprintf(stderr, "%s: %s\n", e->element[0]->str,
			    rep->str != NULL ? rep->str : "failed");
		freeReplyObject(rep);
	}
	free(v);
	free(l);
	return rc;
}

/* Replay or drop the entries of key named in ids, or all (ids NULL). */
static int
dlq_each(struct redis *r, const char *key, char **ids, int nids, bool drop)
{
	redisReply	*rep, *d;
	char		 start[64] = "-";
	size_t		 i, done = 0;
	int		 k, rc = 0;

	for (k = 0; ids == NULL || k < nids; k++) {
		rep = ids == NULL ? redis_cmdf(r, "XRANGE %s %s + COUNT %d",
		    key, start, DLQ_PAGE) : redis_cmdf(r, "XRANGE %s %s %s",
		    key, ids[k], ids[k]);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
			if (rep != NULL) {
				fprintf(stderr, "%s\n", rep->str != NULL ?
				    rep->str : "XRANGE failed");
				freeReplyObject(rep);
			}
			return 1;
		}
		if (ids != NULL && rep->elements == 0) {
			fprintf(stderr, "%s: no such dead letter\n", ids[k]);
			rc = 1;
		}
		for (i = 0; i < rep->elements; i++) {
			if (drop) {
				d = redis_cmdf(r, "XDEL %s %s", key,
				    rep->element[i]->element[0]->str);
				if (d != NULL &&
				    d->type == REDIS_REPLY_INTEGER &&
				    d->integer == 1)
					done++;
				if (d != NULL)
					freeReplyObject(d);
			} else if (dlq_replay_one(r, key,
			    rep->element[i]) == 1)
				done++;
			else
				rc = 1;
		}
		if (ids == NULL) {
			if (rep->elements == 0) {
				freeReplyObject(rep);
				break;
			}
			snprintf(start, sizeof(start), "(%s",
			    rep->element[rep->elements - 1]->element[0]->str);
		}
		freeReplyObject(rep);
	}
	printf("%zu dead letter%s %s\n", done, done == 1 ? "" : "s",
	    drop ? "dropped" : "replayed");
	return rc;
}

int
ctl_dlq(struct ctl *c, int argc, char **argv)
{
	struct redis	 r;
	const char	*cnt;
	char		*key;
	int64_t		 count = 100;
	int		 rc;
	bool		 all;

	if (argc < 2 || !adapter_known(argv[1]))
		return ctl_dlq_usage();
	all = ctl_has(argc, argv, "--all") != 0;
	if ((cnt = ctl_opt(argc, argv, "--count")) != NULL &&
	    parse_int64(cnt, 1, 100000, &count) == -1)
		return ctl_dlq_usage();
	if (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "replay") != 0 &&
	    strcmp(argv[0], "drop") != 0)
		return ctl_dlq_usage();
	/* list takes only --count; replay and drop take ids or --all. */
	if (strcmp(argv[0], "list") == 0 ?
	    argc != (cnt != NULL ? 4 : 2) || all :
	    cnt != NULL || (all ? argc != 3 : argc < 3))
		return ctl_dlq_usage();
	if (ctl_redis(c, &r) == -1)
		return 1;
	key = xasprintf("%s%s", c->conf.adapter_dlq_prefix, argv[1]);
	if (strcmp(argv[0], "list") == 0)
		rc = dlq_list(&r, key, (long long)count);
	else
		rc = dlq_each(&r, key, all ? NULL : argv + 2, all ? 0 :
		    argc - 2, strcmp(argv[0], "drop") == 0);
	free(key);
	redis_close(&r);
	return rc;
}

/* Integer or string value of key k in a flat [k, v, ...] reply, as text. */
static void
flat_get(const redisReply *a, const char *k, char *dst, size_t dsz)
{
	size_t	 i;

	str_copy(dst, dsz, "-");
	for (i = 0; a->type == REDIS_REPLY_ARRAY && i + 1 < a->elements;
	    i += 2) {
		if (a->element[i]->str == NULL || strcmp(a->element[i]->str,
		    k) != 0)
			continue;
		if (a->element[i + 1]->type == REDIS_REPLY_INTEGER)
			snprintf(dst, dsz, "%lld", a->element[i + 1]->integer);
		else if (a->element[i + 1]->str != NULL)
			str_copy(dst, dsz, a->element[i + 1]->str);
		return;
	}
}

/* The group's line on stream s and one line per consumer. */
static void
status_group(struct redis *r, const char *s, const char *group)
{
	redisReply	*rep, *g;
	char		 name[128], v[5][64];
	size_t		 i;

	if ((rep = redis_cmdf(r, "XINFO GROUPS %s", s)) == NULL)
		return;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
	    i++) {
		g = rep->element[i];
		flat_get(g, "name", name, sizeof(name));
		if (strcmp(name, group) != 0)
			continue;
		flat_get(g, "lag", v[0], sizeof(v[0]));
		flat_get(g, "pending", v[1], sizeof(v[1]));
		flat_get(g, "entries-read", v[2], sizeof(v[2]));
		flat_get(g, "last-delivered-id", v[3], sizeof(v[3]));
		flat_get(g, "consumers", v[4], sizeof(v[4]));
		printf("stream: %s lag=%s pending=%s entries_read=%s "
		    "last_delivered=%s consumers=%s\n", s, v[0], v[1], v[2],
		    v[3], v[4]);
		break;
	}
	if (rep->type != REDIS_REPLY_ARRAY || i == rep->elements)
		printf("stream: %s no consumer group (adapter not started "
		    "yet)\n", s);
	freeReplyObject(rep);
	if ((rep = redis_cmdf(r, "XINFO CONSUMERS %s %s", s, group)) == NULL)
		return;
	for (i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
	    i++) {
		flat_get(rep->element[i], "name", name, sizeof(name));
		flat_get(rep->element[i], "pending", v[0], sizeof(v[0]));
		flat_get(rep->element[i], "idle", v[1], sizeof(v[1]));
		printf("consumer: %s pending=%s idle_ms=%s\n", name, v[0],
		    v[1]);
	}
	freeReplyObject(rep);
}

/* The heartbeats of running instances (rolodex:status:<a>:*). */
static void
status_instances(struct redis *r, const char *a)
{
	static const char *const f[] = { "pid", "uptime_s", "applied",
	    "skipped", "retried", "dead_letters", "feedback",
	    "pending_retries", "paused_ms", "updated", NULL };
	redisReply	*keys, *h;
	char		 cursor[32] = "0", v[64];
	size_t		 i, k;

	do {
		keys = redis_cmdf(r, "SCAN %s MATCH rolodex:status:%s:* COUNT "
		    "1000", cursor, a);
		if (keys == NULL || keys->type != REDIS_REPLY_ARRAY ||
		    keys->elements != 2) {
			if (keys != NULL)
				freeReplyObject(keys);
			return;
		}
		str_copy(cursor, sizeof(cursor), keys->element[0]->str);
		for (i = 0; i < keys->element[1]->elements; i++) {
			h = redis_cmdf(r, "HGETALL %s",
			    keys->element[1]->element[i]->str);
			if (h == NULL)
				continue;
			flat_get(h, "consumer", v, sizeof(v));
			printf("instance: %s", v);
			for (k = 0; f[k] != NULL; k++) {
				flat_get(h, f[k], v, sizeof(v));
				printf(" %s=%s", f[k], v);
			}
			printf("\n");
			freeReplyObject(h);
		}
		freeReplyObject(keys);
	} while (strcmp(cursor, "0") != 0);
}

static void
status_adapter(struct ctl *c, struct redis *r, const char *a)
{
	redisReply	*rep;
	char		*group, *s;
	int64_t		 k, n = c->conf.redis_partitions;

	group = xasprintf("rolodex-adapter-%s", a);
	printf("adapter: %s\ngroup: %s\n", a, group);
	for (k = 0; k < (n > 1 ? n : 1); k++) {
		s = n > 1 ? xasprintf("%s:%lld", c->conf.redis_stream,
		    (long long)k) : xstrdup(c->conf.redis_stream);
		status_group(r, s, group);
		free(s);
	}
	if ((rep = redis_cmdf(r, "XLEN %s%s", c->conf.adapter_dlq_prefix,
	    a)) != NULL) {
		printf("dead_letters: %lld\n", rep->type ==
		    REDIS_REPLY_INTEGER ? rep->integer : -1LL);
		freeReplyObject(rep);
	}
	status_instances(r, a);
	free(group);
}

int
ctl_adapter(struct ctl *c, int argc, char **argv)
{
	struct redis	 r;
	size_t		 i;

	if (argc < 1 || strcmp(argv[0], "status") != 0 ||
	    (argc > 1 && !adapter_known(argv[1])))
		return ctl_dlq_usage();
	if (ctl_redis(c, &r) == -1)
		return 1;
	for (i = 0; adapters[i] != NULL; i++) {
		if (argc > 1 && strcmp(argv[1], adapters[i]) != 0)
			continue;
		status_adapter(c, &r, adapters[i]);
	}
	redis_close(&r);
	return 0;
}
