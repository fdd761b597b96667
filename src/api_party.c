/*
 * Rolodex - persons, organisations and parties: the collection and item
 * handlers.
 *
 * Every write runs in one transaction that holds the party's row lock,
 * writes the change and its outbox row, and re-reads the stored party so
 * the response and the event's data are exactly what GET returns.  A
 * write that would change nothing commits nothing: no version, no event.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth_jwt.h"
#include "cursor.h"
#include "jsonx.h"
#include "log.h"
#include "outbox.h"
#include "party.h"
#include "util.h"
#include "valid.h"
#include "xalloc.h"

struct pctx {
	enum party_type	 type;
	bool		 typed;		/* false on /parties */
	struct uuid	 id;
	struct party	 in;		/* parsed body (POST, PUT) */
	json_object	*patch;		/* PATCH body */
	struct party	 out;		/* the stored result */
	bool		 found;
	bool		 changed;
	bool		 erase;		/* DELETE ?erase=true */
};

static const char *const json_types[] = { "application/json", NULL };
static const char *const patch_types[] = { "application/merge-patch+json",
	"application/json", NULL };

/* Route to the party type it serves; false for /parties. */
static bool
route_party_type(enum route r, enum party_type *t)
{
	switch (r) {
	case R_PERSONS:
	case R_PERSON:
		*t = PARTY_PERSON;
		return true;
	case R_ORGS:
	case R_ORG:
		*t = PARTY_ORG;
		return true;
	default:
		return false;
	}
}

static const char *
collection_path(enum party_type t)
{
	return t == PARTY_PERSON ? "/persons" : "/organisations";
}

int
api_party_param(struct req *r, struct uuid *id)
{
	if (uuid_parse(r->m.param[0], id) == -1) {
		resp_error(r, RLX_NOTFOUND, "No party has this id.");
		return -1;
	}
	return 0;
}

const char *
api_traceparent(const struct req *r)
{
	const char	*tp = req_header(r, "HTTP_TRACEPARENT");
	size_t		 i;

	if (tp == NULL || strlen(tp) != 55)
		return NULL;
	for (i = 0; i < 55; i++) {
		if (i == 2 || i == 35 || i == 52) {
			if (tp[i] != '-')
				return NULL;
		} else if (strchr("0123456789abcdef", tp[i]) == NULL)
			return NULL;
	}
	return tp;
}

int
api_if_match(struct req *r, long long v, struct problem *pb)
{
	const char	*im = req_header(r, "HTTP_IF_MATCH"), *p;
	char		 tag[32];
	size_t		 n;

	if (im == NULL)
		return 0;
	snprintf(tag, sizeof(tag), "\"%lld\"", v);
	for (p = im; *p != '\0'; p += n) {
		p += strspn(p, " \t,");
		if (*p == '*')
			return 0;
		n = strcspn(p, ",");
		/* Strong comparison: weak tags never match. */
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == strlen(tag) && strncmp(p, tag, n) == 0)
			return 0;
		n += strcspn(p + n, ",");
	}
	problem_set(pb, RLX_PRECOND, "If-Match does not match the current "
	    "version %lld.", v);
	return -1;
}

void
api_party_respond(struct req *r, int status, const struct party *p)
{
	json_object	*o = party_to_json(p);

	resp_header(r, "ETag: \"%lld\"", p->version);
	resp_json(r, status, o);
	json_object_put(o);
}

/* Emit the event of p's change, p as stored now. */
static enum db_rc
party_event(struct req *r, enum event_kind k, const struct party *p)
{
	json_object	*data = party_to_json(p);
	enum db_rc	 rc;

	rc = outbox_add(r->api->db, k, party_type_name(p->type), &p->id,
	    p->version, data, api_traceparent(r));
	json_object_put(data);
	return rc;
}

/* Bump and emit an Updated event for a party whose address changed. */
static enum db_rc
party_touch(struct req *r, const struct uuid *id)
{
	struct party	 p;
	enum db_rc	 rc;
	bool		 found;

	if ((rc = db_party_load(r->api->db, id, true, &p, &found)) != DB_OK)
		return rc;
	if (found && (rc = db_party_bump(r->api->db, id)) == DB_OK) {
		party_clear(&p);
		rc = db_party_load(r->api->db, id, false, &p, &found);
		if (rc == DB_OK && found)
			rc = party_event(r, EV_UPDATED, &p);
	}
	party_clear(&p);
	return rc;
}

/* Addresses named by a client id must exist (they are being linked). */
static enum db_rc
check_linked_addresses(struct req *r, const struct party *prev,
    const struct party *next, struct problem *pb)
{
	enum db_rc	 rc;
	size_t		 i, j;
	bool		 found;

	for (i = 0; i < next->naddr; i++) {
		if (next->addr[i].is_new)
			continue;
		for (j = 0; prev != NULL && j < prev->naddr; j++)
			if (memcmp(&prev->addr[j].id, &next->addr[i].id,
			    16) == 0)
				break;
		if (prev != NULL && j < prev->naddr)
			continue;
		if ((rc = db_address_exists(r->api->db, &next->addr[i].id,
		    &found)) != DB_OK)
			return rc;
		if (!found) {
			problem_set(pb, RLX_EINVAL, "Address %zu names an "
			    "address_id that does not exist.", i);
			return DB_OK;
		}
	}
	return DB_OK;
}

enum db_rc
api_party_change(struct req *r, const struct party *prev,
    struct party *next, struct party *out, bool *changed,
    struct problem *pb)
{
	struct uuid	*others = NULL;
	size_t		 nothers = 0, i;
	enum db_rc	 rc;
	bool		 found;

	*changed = false;
	next->id = prev->id;
	next->type = prev->type;
	party_resolve_addresses(next, prev);
	party_derive(next);
	if ((rc = check_linked_addresses(r, prev, next, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		return rc;
	if (party_same(prev, next))
		return db_party_load(r->api->db, &prev->id, false, out, &found);
	*changed = true;
	rc = db_party_update(r->api->db, prev, next, &others, &nothers);
	if (rc == DB_OK)
		rc = db_party_load(r->api->db, &prev->id, false, out, &found);
	if (rc == DB_OK)
		rc = party_event(r, EV_UPDATED, out);
	for (i = 0; i < nothers && rc == DB_OK; i++)
		rc = party_touch(r, &others[i]);
	free(others);
	return rc;
}

static enum db_rc
txn_create(struct req *r, void *arg, struct problem *pb)
{
	struct pctx	*c = arg;
	struct uuid	*others = NULL;
	size_t		 nothers = 0, i;
	enum db_rc	 rc;

	party_resolve_addresses(&c->in, NULL);
	if ((rc = check_linked_addresses(r, NULL, &c->in, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		return rc;
	if ((rc = db_party_insert(r->api->db, &c->in, &others, &nothers)) ==
	    DB_OK) {
		party_clear(&c->out);
		rc = db_party_load(r->api->db, &c->in.id, false, &c->out,
		    &c->found);
	}
	if (rc == DB_OK) {
		c->changed = true;
		rc = party_event(r, EV_CREATED, &c->out);
	}
	for (i = 0; i < nothers && rc == DB_OK; i++)
		rc = party_touch(r, &others[i]);
	free(others);
	return rc;
}

/* Load the item for a write, checking type and If-Match. */
static enum db_rc
load_for_write(struct req *r, struct pctx *c, struct party *prev,
    struct problem *pb)
{
	enum db_rc	 rc;

	rc = db_party_load(r->api->db, &c->id, true, prev, &c->found);
	if (rc != DB_OK)
		return rc;
	if (!c->found || (c->typed && prev->type != c->type)) {
		c->found = false;
		problem_set(pb, RLX_NOTFOUND, "No %s has this id.",
		    c->typed ? party_type_name(c->type) : "party");
		return DB_OK;
	}
	api_if_match(r, prev->version, pb);
	return DB_OK;
}

static enum db_rc
txn_replace(struct req *r, void *arg, struct problem *pb)
{
	struct pctx	*c = arg;
	struct party	 prev, next;
	json_object	*merged;
	enum db_rc	 rc;
	size_t		 i;

	if ((rc = load_for_write(r, c, &prev, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		goto out;
	if (c->patch != NULL) {
		merged = jsonx_merge_patch(party_input_json(&prev), c->patch);
		i = party_from_json(merged, prev.type, &next, pb);
		json_object_put(merged);
		if (i != 0)
			goto out;
	} else {
		/* Take the parsed body; a retried transaction parses again. */
		next = c->in;
		memset(&c->in, 0, sizeof(c->in));
	}
	/* A PUT without "addresses" keeps them (a merge patch always has
	 * them, from the current state). */
	if (!next.addresses_given)
		for (i = 0; i < prev.naddr; i++)
			party_add_address(&next, &prev.addr[i]);
	/* Identifiers are not part of a replace; keep them. */
	for (i = 0; i < prev.next; i++)
		party_set_extid(&next, prev.ext[i].system,
		    prev.ext[i].identifier);
	party_clear(&c->out);
	rc = api_party_change(r, &prev, &next, &c->out, &c->changed, pb);
	party_clear(&next);
out:
	party_clear(&prev);
	return rc;
}

/*
 * GDPR erasure, beside the delete: strip the person from every outbox
 * payload still held (published or not), drop the notes of the
 * relationships that involved them and the stored Idempotency-Key
 * answers that show them, and leave an audit row that holds no personal
 * data.
 */
static enum db_rc
erase_traces(struct req *r, const struct uuid *id, const char *idtext)
{
	struct db_arg	 redact[] = { db_str(idtext), DB_BIN(id->b, 16) };
	struct db_arg	 audit[] = { DB_BIN(id->b, 16), db_str(r->sub),
	    db_str(r->id) };
	struct db_arg	 rels[] = { db_str(idtext), db_str(idtext) };
	enum db_rc	 rc;

	if ((rc = db_exec(r->api->db, STMT_OUTBOX_REDACT, redact, 2, NULL,
	    NULL)) != DB_OK || (rc = db_exec(r->api->db,
	    STMT_OUTBOX_REDACT_RELS, rels, 2, NULL, NULL)) != DB_OK ||
	    (rc = db_exec(r->api->db, STMT_IDEM_REDACT, rels, 1, NULL,
	    NULL)) != DB_OK)
		return rc;
	log_info("erasing party %s", idtext);
	return db_exec(r->api->db, STMT_ERASURE_AUDIT, audit, 3, NULL, NULL);
}

static enum db_rc
txn_delete(struct req *r, void *arg, struct problem *pb)
{
	struct pctx	*c = arg;
	struct party	 prev;
	json_object	*data;
	char		 id[UUID_STRLEN + 1];
	enum db_rc	 rc;

	if ((rc = load_for_write(r, c, &prev, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		goto out;
	if ((rc = api_relship_delete_of_party(r, &prev.id)) != DB_OK ||
	    (rc = db_party_delete(r->api->db, &prev)) != DB_OK)
		goto out;
	uuid_fmt(&prev.id, id);
	if (c->erase && (rc = erase_traces(r, &prev.id, id)) != DB_OK)
		goto out;
	data = json_object_new_object();
	jsonx_add_str(data, "party_id", id);
	jsonx_add_str(data, "party_type", party_type_name(prev.type));
	jsonx_add_int(data, "version", prev.version + 1);
	if (c->erase)
		jsonx_add_bool(data, "erased", true);
	rc = outbox_add(r->api->db, EV_DELETED, party_type_name(prev.type),
	    &prev.id, prev.version + 1, data, api_traceparent(r));
	json_object_put(data);
	c->changed = true;
out:
	party_clear(&prev);
	return rc;
}

static enum db_rc
txn_get(struct req *r, void *arg, struct problem *pb)
{
	struct pctx	*c = arg;
	enum db_rc	 rc;

	party_clear(&c->out);
	rc = db_party_load(r->api->db, &c->id, false, &c->out, &c->found);
	if (rc == DB_OK && (!c->found || (c->typed &&
	    c->out.type != c->type))) {
		c->found = false;
		problem_set(pb, RLX_NOTFOUND, "No %s has this id.",
		    c->typed ? party_type_name(c->type) : "party");
	}
	return rc;
}

/* Parse and validate the body of POST or PUT into c->in. */
static int
parse_party_body(struct req *r, struct pctx *c, struct problem *pb)
{
	json_object	*o;
	int		 rc;

	if (req_want_type(r, json_types, pb) == -1 ||
	    req_read_body(r, pb) == -1 || (o = req_json(r, pb)) == NULL)
		return -1;
	rc = party_from_json(o, c->type, &c->in, pb);
	json_object_put(o);
	return rc;
}

static void
finish(struct req *r, struct pctx *c, enum db_rc rc, struct problem *pb,
    int status)
{
	char	 id[UUID_STRLEN + 1];

	if (rc != DB_OK)
		api_db_error(r, rc);
	else if (pb->err != RLX_OK)
		resp_problem(r, pb);
	else if (status == 204)
		resp_empty(r, 204);
	else {
		if (status == 201) {
			uuid_fmt(&c->out.id, id);
			resp_header(r, "Location: %s/%s",
			    collection_path(c->out.type), id);
		}
		api_party_respond(r, status, &c->out);
	}
}

static void
party_create(struct req *r, struct pctx *c)
{
	static const char *const none[] = { NULL };
	struct problem	 pb;
	enum db_rc	 rc = DB_OK;

	problem_init(&pb);
	if (req_check_query(r, none, &pb) == 0 &&
	    parse_party_body(r, c, &pb) == 0) {
		uuid_v7(&c->in.id);
		rc = api_txn(r, txn_create, c, &pb);
	}
	finish(r, c, rc, &pb, 201);
	problem_clear(&pb);
}

/* Whether If-None-Match names the current version (answer 304). */
static bool
not_modified(struct req *r, long long v)
{
	const char	*inm = req_header(r, "HTTP_IF_NONE_MATCH");
	char		 tag[32];

	if (inm == NULL)
		return false;
	snprintf(tag, sizeof(tag), "\"%lld\"", v);
	return strcmp(inm, "*") == 0 || strstr(inm, tag) != NULL;
}

/*
 * Item routes take no query parameters, except DELETE /persons/{id}
 * ?erase=true (GDPR erasure), which needs the admin role.  -1 when
 * answered.
 */
static int
item_query(struct req *r, struct pctx *c)
{
	static const char *const none[] = { NULL };
	static const char *const erase[] = { "erase", NULL };
	struct problem	 pb;
	const char	*v;
	bool		 may_erase = r->method == M_DELETE &&
			    r->m.route == R_PERSON;

	problem_init(&pb);
	if (req_check_query(r, may_erase ? erase : none, &pb) == -1) {
		resp_problem(r, &pb);
		problem_clear(&pb);
		return -1;
	}
	if ((v = req_query(r, "erase")) == NULL || strcmp(v, "false") == 0)
		return 0;
	if (strcmp(v, "true") != 0) {
		resp_error(r, RLX_BADREQ, "erase is true or false.");
		return -1;
	}
	if (!(r->roles & ROLE_ADMIN)) {
		resp_header(r, "WWW-Authenticate: Bearer realm=\"rolodex\", "
		    "error=\"insufficient_scope\", scope=\"admin\"");
		resp_error(r, RLX_FORBIDDEN, "Erasure needs the admin role.");
		return -1;
	}
	c->erase = true;
	return 0;
}

void
h_party_item(struct req *r)
{
	struct pctx	 c;
	struct problem	 pb;
	enum db_rc	 rc = DB_OK;
	int		 status = 200;

	memset(&c, 0, sizeof(c));
	problem_init(&pb);
	c.typed = route_party_type(r->m.route, &c.type);
	if (api_party_param(r, &c.id) == -1 || item_query(r, &c) == -1)
		return;
	switch (r->method) {
	case M_GET:
	case M_HEAD:
		rc = api_txn(r, txn_get, &c, &pb);
		if (rc == DB_OK && pb.err == RLX_OK &&
		    not_modified(r, c.out.version)) {
			resp_header(r, "ETag: \"%lld\"", c.out.version);
			resp_empty(r, 304);
			goto out;
		}
		break;
	case M_PUT:
		if (parse_party_body(r, &c, &pb) == 0)
			rc = api_txn(r, txn_replace, &c, &pb);
		break;
	case M_PATCH:
		if (req_want_type(r, patch_types, &pb) == 0 &&
		    req_read_body(r, &pb) == 0 &&
		    (c.patch = req_json(r, &pb)) != NULL)
			rc = api_txn(r, txn_replace, &c, &pb);
		break;
	case M_DELETE:
		rc = api_txn(r, txn_delete, &c, &pb);
		status = 204;
		break;
	default:
		abort();
	}
	finish(r, &c, rc, &pb, status);
out:
	json_object_put(c.patch);
	party_clear(&c.in);
	party_clear(&c.out);
	problem_clear(&pb);
}

static const char *const list_params[] = { "limit", "cursor", "q", "email",
	"external_id", "updated_since", NULL };

/*
 * The sort order follows the filters: a name prefix sorts by name, an
 * updated_since by time, anything else by id.  A cursor must come from
 * a list of the same order.
 */
static int
list_cursor(struct req *r, struct party_filter *f, struct problem *pb)
{
	enum cursor_kind	 kind = f->name_prefix != NULL ? CURSOR_NAME :
				    f->updated_since != NULL ? CURSOR_UPDATED :
				    CURSOR_ID;
	const char		*v = req_query(r, "cursor");

	if (v != NULL) {
		if (cursor_decode(v, &f->after) == -1 ||
		    f->after.kind != kind) {
			problem_set(pb, RLX_BADREQ, "The cursor is not valid "
			    "for this list.");
			return -1;
		}
		return 0;
	}
	f->after.kind = kind;
	if (kind == CURSOR_UPDATED)
		str_copy(f->after.key, sizeof(f->after.key), f->updated_since);
	return 0;
}

/* The cursor after party p in the order of f. */
static char *
list_next_cursor(const struct party_filter *f, const struct party *p)
{
	struct cursor	 c;
	char		*t;

	memset(&c, 0, sizeof(c));
	c.kind = f->after.kind;
	c.id = p->id;
	if (c.kind == CURSOR_NAME)
		str_copy(c.key, sizeof(c.key), p->display_name);
	else if (c.kind == CURSOR_UPDATED) {
		/* "2026-01-02T03:04:05.123456Z" -> "2026-01-02 03:04:05.123456" */
		str_copy(c.key, sizeof(c.key), p->updated_at);
		if ((t = strchr(c.key, 'T')) != NULL)
			*t = ' ';
		if ((t = strchr(c.key, 'Z')) != NULL)
			*t = '\0';
	}
	return cursor_encode(&c);
}

/* Turn the list query into a filter; -1 with pb (400). */
static int
list_filter(struct req *r, struct party_filter *f, char *since, size_t ssz,
    char *sys, size_t syssz, struct problem *pb)
{
	const char	*v, *colon;
	int64_t		 n, us;
	time_t		 secs;
	struct tm	 tm;

	if (req_check_query(r, list_params, pb) == -1)
		return -1;
	f->limit = (int)r->api->conf.api_page_default;
	if ((v = req_query(r, "limit")) != NULL) {
		if (parse_int64(v, 1, 200, &n) == -1) {
			problem_set(pb, RLX_BADREQ, "limit must be 1 to 200.");
			return -1;
		}
		f->limit = (int)n;
	}
	if ((v = req_query(r, "q")) != NULL && !valid_text(v, 1, 100)) {
		problem_set(pb, RLX_BADREQ, "q must be 1 to 100 characters.");
		return -1;
	}
	f->name_prefix = v;
	if ((v = req_query(r, "email")) != NULL && !valid_text(v, 1, 254)) {
		problem_set(pb, RLX_BADREQ, "email must be 1 to 254 "
		    "characters.");
		return -1;
	}
	f->email = v;
	if ((v = req_query(r, "external_id")) != NULL) {
		colon = strchr(v, ':');
		if (colon == NULL || (size_t)(colon - v) >= syssz) {
			problem_set(pb, RLX_BADREQ, "external_id must be "
			    "system:identifier.");
			return -1;
		}
		memcpy(sys, v, (size_t)(colon - v));
		sys[colon - v] = '\0';
		if (!valid_system_name(sys) || !valid_identifier(colon + 1)) {
			problem_set(pb, RLX_BADREQ, "external_id must be "
			    "system:identifier.");
			return -1;
		}
		f->ext_system = sys;
		f->ext_identifier = colon + 1;
	}
	if ((v = req_query(r, "updated_since")) != NULL) {
		if (!valid_rfc3339(v, &us)) {
			problem_set(pb, RLX_BADREQ, "updated_since must be an "
			    "RFC 3339 date-time.");
			return -1;
		}
		secs = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) /
		    1000000));
		gmtime_r(&secs, &tm);
		snprintf(since, ssz, "%04d-%02d-%02d %02d:%02d:%02d.%06lld",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (long long)(us - (int64_t)secs *
		    1000000));
		f->updated_since = since;
	}
	return list_cursor(r, f, pb);
}

/* Percent-encode s for a query string into a new string. */
static char *
url_encode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out = xmalloc(strlen(s) * 3 + 1), *o = out;

	for (; *s != '\0'; s++) {
		if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789-._~", *s) != NULL)
			*o++ = *s;
		else {
			*o++ = '%';
			*o++ = hex[(unsigned char)*s >> 4];
			*o++ = hex[(unsigned char)*s & 15];
		}
	}
	*o = '\0';
	return out;
}

void
api_link_next(struct req *r, const char *cursor)
{
	char	*link = xasprintf("<%s?cursor=%s", r->path, cursor), *k, *v,
		*n;
	size_t	 i;

	for (i = 0; i < r->nq; i++) {
		if (strcmp(r->q[i].key, "cursor") == 0)
			continue;
		k = url_encode(r->q[i].key);
		v = url_encode(r->q[i].val);
		n = xasprintf("%s&%s=%s", link, k, v);
		free(link);
		free(k);
		free(v);
		link = n;
	}
	resp_header(r, "Link: %s>; rel=\"next\"", link);
	free(link);
}

struct lctx {
	struct party_filter	 f;
	struct party		*items;
	size_t			 n;
};

static enum db_rc
txn_list(struct req *r, void *arg, struct problem *pb)
{
	struct lctx	*l = arg;

	(void)pb;
	party_list_free(l->items, l->n);
	l->items = NULL;
	l->n = 0;
	return db_party_list(r->api->db, &l->f, &l->items, &l->n);
}

static void
party_list(struct req *r, struct pctx *c)
{
	struct lctx	 l;
	struct problem	 pb;
	json_object	*o, *arr;
	char		 since[80], sys[72], *cur = NULL;
	enum db_rc	 rc;
	size_t		 i, shown;
	int		 want;

	memset(&l, 0, sizeof(l));
	problem_init(&pb);
	if (list_filter(r, &l.f, since, sizeof(since), sys, sizeof(sys),
	    &pb) == -1) {
		resp_problem(r, &pb);
		goto out;
	}
	if (c->typed)
		l.f.type = &c->type;
	want = l.f.limit;
	l.f.limit = want + 1;	/* one more tells whether a next page exists */
	if ((rc = api_txn(r, txn_list, &l, &pb)) != DB_OK) {
		api_db_error(r, rc);
		goto out;
	}
	shown = l.n > (size_t)want ? (size_t)want : l.n;
	arr = json_object_new_array();
	for (i = 0; i < shown; i++)
		json_object_array_add(arr, party_to_json(&l.items[i]));
	o = json_object_new_object();
	json_object_object_add(o, "items", arr);
	if (l.n > (size_t)want) {
		cur = list_next_cursor(&l.f, &l.items[shown - 1]);
		api_link_next(r, cur);
	}
	jsonx_add_str(o, "next_cursor", cur);
	resp_json(r, 200, o);
	json_object_put(o);
out:
	free(cur);
	party_list_free(l.items, l.n);
	problem_clear(&pb);
}

void
h_party_collection(struct req *r)
{
	struct pctx	 c;

	memset(&c, 0, sizeof(c));
	c.typed = route_party_type(r->m.route, &c.type);
	if (r->method == M_POST)
		party_create(r, &c);
	else
		party_list(r, &c);
	party_clear(&c.in);
	party_clear(&c.out);
}
