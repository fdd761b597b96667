/*
 * Rolodex - rolodex-relay: identifiers the adapters post back.
 *
 * Adapters append ExternalIdentifierAssigned entries to [redis]
 * feedback_stream (subject = party id, data = {"system_name",
 * "identifier"}).  The leader reads them in the consumer group
 * "rolodex-relay" and stores each as the party's identifier in that
 * system with last_synced = now.
 *
 * Invariants: storing changes no party version and writes no outbox row,
 * so it causes no event and no loop; storing twice is the same as once
 * (only last_synced moves); an entry is acknowledged only once it is
 * stored or known to be unusable (malformed, unknown party, identifier
 * owned by another party: logged and dropped); a database failure leaves
 * it pending, and entries pending with a dead relay are claimed after
 * [relay] lease seconds.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "relay.h"
#include "uuid.h"
#include "valid.h"
#include "xalloc.h"

#define FB_TYPE		"ExternalIdentifierAssigned"

/* One usable feedback entry. */
struct fb_item {
	const char	*entry;		/* stream entry id, borrowed */
	struct uuid	 party;
	char		 party_text[UUID_STRLEN + 1];
	char		*system;
	char		*identifier;
};

/* Create the consumer group once per connection (BUSYGROUP is fine). */
static int
fb_group(struct relay *r)
{
	redisReply	*rep;
	int		 rc = 0;

	if (r->group_connects == r->redis.connects && r->redis.c != NULL)
		return 0;
	rep = redis_cmdf(&r->redis, "XGROUP CREATE %s %s 0 MKSTREAM",
	    r->conf->redis_feedback_stream, RELAY_FEEDBACK_GROUP);
	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ERROR && !redis_is_error(rep,
	    "BUSYGROUP")) {
		log_warnx("%s: XGROUP CREATE %s: %s", __func__,
		    r->conf->redis_feedback_stream, rep->str);
		rc = -1;
	} else
		r->group_connects = r->redis.connects;
	freeReplyObject(rep);
	return rc;
}

static void
fb_item_clear(struct fb_item *it)
{
	free(it->system);
	free(it->identifier);
}

/*
 * Parse entry e into it.  Returns 0, or -1 with why set when the entry
 * cannot be used (to be dropped).
 */
static int
fb_parse(const redisReply *e, struct fb_item *it, const char **why)
{
	const char	*type, *subject, *data;
	json_object	*o, *s, *i;
	char		 err[128];

	memset(it, 0, sizeof(*it));
	it->entry = e->element[0]->str;
	type = relay_entry_field(e, "type");
	subject = relay_entry_field(e, "subject");
	data = relay_entry_field(e, "data");
	*why = "not an " FB_TYPE " event";
	if (type == NULL || strcmp(type, FB_TYPE) != 0)
		return -1;
	*why = "subject is not a party id";
	if (subject == NULL || uuid_parse(subject, &it->party) == -1)
		return -1;
	uuid_fmt(&it->party, it->party_text);
	*why = "data is not {\"system_name\", \"identifier\"}";
	if (data == NULL || (o = jsonx_parse(data, strlen(data), err,
	    sizeof(err))) == NULL)
		return -1;
	if (json_object_object_get_ex(o, "system_name", &s) &&
	    json_object_object_get_ex(o, "identifier", &i) &&
	    json_object_is_type(s, json_type_string) &&
	    json_object_is_type(i, json_type_string) &&
	    valid_system_name(json_object_get_string(s)) &&
	    valid_identifier(json_object_get_string(i))) {
		it->system = xstrdup(json_object_get_string(s));
		it->identifier = xstrdup(json_object_get_string(i));
	}
	json_object_put(o);
	return it->system != NULL ? 0 : -1;
}

/* After DB_DUP: whether the pair already belongs to this very party. */
static enum db_rc
fb_owned(struct relay *r, const struct fb_item *it, bool *mine)
{
	struct db_rows	 rows;
	struct db_arg	 a[2] = { db_str(it->system),
	    db_str(it->identifier) };
	enum db_rc	 rc;

	*mine = false;
	if ((rc = db_exec(r->db, STMT_EXTID_OWNER, a, 2, &rows, NULL)) !=
	    DB_OK)
		return rc;
	*mine = rows.nrows == 1 && db_cell_len(&rows, 0, 0) == 16 &&
	    memcmp(db_cell(&rows, 0, 0), it->party.b, 16) == 0;
	db_rows_clear(&rows);
	return DB_OK;
}

/* Upsert inside the caller's transaction; *why set when refused. */
static enum db_rc
fb_upsert(struct relay *r, const struct fb_item *it, const char **why)
{
	struct db_arg	 u[3] = { db_str(it->identifier),
	    DB_BIN(it->party.b, 16), db_str(it->system) };
	struct db_arg	 ins[3] = { DB_BIN(it->party.b, 16),
	    db_str(it->system), db_str(it->identifier) };
	uint64_t	 n = 0;
	enum db_rc	 rc;
	bool		 mine;

	rc = db_exec(r->db, STMT_EXTID_SYNC_UPDATE, u, 3, NULL, &n);
	if (rc == DB_OK && n == 0)
		rc = db_exec(r->db, STMT_EXTID_SYNC_INSERT, ins, 3, NULL,
		    NULL);
	if (rc != DB_DUP)
		return rc;
	if ((rc = fb_owned(r, it, &mine)) == DB_OK && !mine)
		*why = "the identifier belongs to another party";
	return rc;
}

/* Store it: one transaction, the party share-locked so it stays. */
static enum db_rc
fb_store(struct relay *r, const struct fb_item *it, const char **why)
{
	struct db_rows	 rows;
	struct db_arg	 a = DB_BIN(it->party.b, 16);
	enum db_rc	 rc;

	*why = NULL;
	if ((rc = db_begin(r->db)) != DB_OK)
		return rc;
	if ((rc = db_exec(r->db, STMT_PARTY_TYPE_SHARE, &a, 1, &rows,
	    NULL)) != DB_OK)
		goto out;
	if (rows.nrows == 0)
		*why = "no such party";
	db_rows_clear(&rows);
	if (*why == NULL && (rc = fb_upsert(r, it, why)) != DB_OK)
		goto out;
	rc = *why == NULL ? db_commit(r->db) : DB_OK;
out:
	if (rc != DB_OK || *why != NULL)
		db_rollback(r->db);
	return rc;
}

/*
 * Handle one entry.  0 when it may be acknowledged (stored or dropped),
 * -1 when the database failed (leave it pending).
 */
static int
fb_entry(struct relay *r, const redisReply *e)
{
	struct fb_item	 it;
	const char	*why = NULL;
	enum db_rc	 rc = DB_OK;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
	    e->element[0]->type != REDIS_REPLY_STRING)
		return 0;
	if (e->element[1]->type != REDIS_REPLY_ARRAY)
		return 0;	/* trimmed while pending: nothing to store */
	if (fb_parse(e, &it, &why) == 0)
		rc = fb_store(r, &it, &why);
	if (rc == DB_DOWN || rc == DB_RETRY) {
		fb_item_clear(&it);
		return -1;
	}
	if (rc != DB_OK)
		why = "database error";
	if (why != NULL)
		log_warnx("feedback %s: %s; dropped", e->element[0]->str, why);
	else {
		r->st.feedback++;
		log_debug("feedback %s: party %s %s = %s stored",
		    e->element[0]->str, it.party_text, it.system,
		    it.identifier);
	}
	fb_item_clear(&it);
	return 0;
}

/* Handle entries (an array of stream entries), then XACK the handled. */
static int
fb_handle(struct relay *r, const redisReply *entries)
{
	const char	**av;
	redisReply	*rep;
	size_t		 i, n = 3;
	int		 rc = 0;

	av = xcalloc(entries->elements + 3, sizeof(*av));
	av[0] = "XACK";
	av[1] = r->conf->redis_feedback_stream;
	av[2] = RELAY_FEEDBACK_GROUP;
	for (i = 0; i < entries->elements; i++) {
		if (fb_entry(r, entries->element[i]) == -1) {
			rc = -1;
			break;
		}
		if (entries->element[i]->type == REDIS_REPLY_ARRAY &&
		    entries->element[i]->elements == 2)
			av[n++] = entries->element[i]->element[0]->str;
	}
	if (n > 3) {
		if ((rep = redis_cmd(&r->redis, (int)n, av, NULL)) == NULL)
			rc = -1;
		else
			freeReplyObject(rep);
	}
	free(av);
	return rc == 0 ? (int)entries->elements : -1;
}

/* The entries array of an XREADGROUP or XAUTOCLAIM reply, or NULL. */
static const redisReply *
fb_entries(struct relay *r, const redisReply *rep, bool claim)
{
	if (claim) {
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING)
			return NULL;
		snprintf(r->claim_cursor, sizeof(r->claim_cursor), "%s",
		    rep->element[0]->str);
		return rep->element[1];
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
	    rep->element[0]->type != REDIS_REPLY_ARRAY ||
	    rep->element[0]->elements != 2)
		return NULL;
	return rep->element[0]->element[1];
}

int
relay_feedback(struct relay *r, bool claim)
{
	const char		*fb = r->conf->redis_feedback_stream;
	const redisReply	*entries;
	redisReply		*rep;
	int			 rc = 0;

	if (fb_group(r) == -1)
		return -1;
	if (claim)
		rep = redis_cmdf(&r->redis, "XAUTOCLAIM %s %s %s %lld %s "
		    "COUNT %d", fb, RELAY_FEEDBACK_GROUP, r->name,
		    (long long)r->conf->relay_lease * 1000, r->claim_cursor,
		    RELAY_FEEDBACK_COUNT);
	else
		rep = redis_cmdf(&r->redis, "XREADGROUP GROUP %s %s COUNT %d "
		    "STREAMS %s >", RELAY_FEEDBACK_GROUP, r->name,
		    RELAY_FEEDBACK_COUNT, fb);
	if (rep == NULL)
		return -1;
	if (redis_is_error(rep, "NOGROUP"))
		r->group_connects = 0;	/* stream deleted: recreate */
	else if (rep->type == REDIS_REPLY_ERROR)
		log_warnx("%s: %s: %s", __func__, claim ? "XAUTOCLAIM" :
		    "XREADGROUP", rep->str);
	else if ((entries = fb_entries(r, rep, claim)) != NULL &&
	    entries->type == REDIS_REPLY_ARRAY && entries->elements > 0)
		rc = fb_handle(r, entries);
	freeReplyObject(rep);
	return rc;
}
