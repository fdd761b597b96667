/*
 * Rolodex - relationship handlers: /relationships,
 * /relationships/{relationship_id}, /parties/{party_id}/relationships.
 *
 * A write share-locks both parties, so neither can be deleted until the
 * relationship commits; deleting a party (api_party.c) deletes its
 * relationships, with their events, in its own transaction.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cursor.h"
#include "jsonx.h"
#include "outbox.h"
#include "relship.h"
#include "util.h"
#include "xalloc.h"

struct rctx {
	struct uuid	 id;
	struct relship	 in;
	json_object	*patch;
	struct relship	 out;
	bool		 found;
};

static const char *const json_types[] = { "application/json", NULL };
static const char *const patch_types[] = { "application/merge-patch+json",
	"application/json", NULL };

static enum db_rc
rel_event(struct req *r, enum event_kind k, const struct relship *rel)
{
	json_object	*data;
	char		 id[UUID_STRLEN + 1];
	enum db_rc	 rc;

	if (k == EV_DELETED) {
		data = json_object_new_object();
		uuid_fmt(&rel->id, id);
		jsonx_add_str(data, "relationship_id", id);
		jsonx_add_str(data, "relationship_type", rel->type);
		jsonx_add_int(data, "version", rel->version + 1);
	} else
		data = relship_to_json(rel);
	rc = outbox_add(r->api->db, k, "relationship", &rel->id,
	    k == EV_DELETED ? rel->version + 1 : rel->version, data,
	    api_traceparent(r));
	json_object_put(data);
	return rc;
}

enum db_rc
api_relship_delete_of_party(struct req *r, const struct uuid *party)
{
	struct uuid	*ids;
	struct relship	 rel;
	enum db_rc	 rc;
	size_t		 n, i;
	bool		 found;

	if ((rc = db_relship_ids_of_party(r->api->db, party, &ids, &n)) !=
	    DB_OK)
		return rc;
	for (i = 0; i < n && rc == DB_OK; i++) {
		rc = db_relship_load(r->api->db, &ids[i], true, &rel, &found);
		if (rc == DB_OK && found &&
		    (rc = db_relship_delete(r->api->db, &ids[i])) == DB_OK)
			rc = rel_event(r, EV_DELETED, &rel);
		relship_clear(&rel);
	}
	free(ids);
	return rc;
}

static enum db_rc
txn_rel_create(struct req *r, void *arg, struct problem *pb)
{
	struct rctx	*c = arg;
	enum db_rc	 rc;

	if ((rc = relship_check_parties(r->api->db, &c->in, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		return rc;
	if ((rc = db_relship_insert(r->api->db, &c->in)) != DB_OK)
		return rc;
	relship_clear(&c->out);
	if ((rc = db_relship_load(r->api->db, &c->in.id, false, &c->out,
	    &c->found)) != DB_OK)
		return rc;
	return rel_event(r, EV_CREATED, &c->out);
}

static enum db_rc
load_rel(struct req *r, struct rctx *c, bool lock, struct relship *rel,
    struct problem *pb)
{
	enum db_rc	 rc;

	rc = db_relship_load(r->api->db, &c->id, lock, rel, &c->found);
	if (rc == DB_OK && !c->found)
		problem_set(pb, RLX_NOTFOUND, "No relationship has this id.");
	else if (rc == DB_OK && lock)
		api_if_match(r, rel->version, pb);
	return rc;
}

static enum db_rc
txn_rel_replace(struct req *r, void *arg, struct problem *pb)
{
	struct rctx	*c = arg;
	struct relship	 prev, next;
	json_object	*merged;
	enum db_rc	 rc;
	int		 bad;

	memset(&next, 0, sizeof(next));
	if ((rc = load_rel(r, c, true, &prev, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		goto out;
	if (c->patch != NULL) {
		merged = jsonx_merge_patch(relship_input_json(&prev), c->patch);
		bad = relship_from_json(merged, &next, pb);
		json_object_put(merged);
		if (bad)
			goto out;
	} else {
		next = c->in;
		memset(&c->in, 0, sizeof(c->in));
	}
	next.id = prev.id;
	relship_clear(&c->out);
	if (relship_same(&prev, &next)) {
		c->out = prev;
		memset(&prev, 0, sizeof(prev));
		goto out;
	}
	if ((rc = relship_check_parties(r->api->db, &next, pb)) != DB_OK ||
	    pb->err != RLX_OK)
		goto out;
	if ((rc = db_relship_update(r->api->db, &next)) == DB_OK &&
	    (rc = db_relship_load(r->api->db, &c->id, false, &c->out,
	    &c->found)) == DB_OK)
		rc = rel_event(r, EV_UPDATED, &c->out);
out:
	relship_clear(&next);
	relship_clear(&prev);
	return rc;
}

static enum db_rc
txn_rel_delete(struct req *r, void *arg, struct problem *pb)
{
	struct rctx	*c = arg;
	struct relship	 prev;
	enum db_rc	 rc;

	if ((rc = load_rel(r, c, true, &prev, pb)) == DB_OK &&
	    pb->err == RLX_OK &&
	    (rc = db_relship_delete(r->api->db, &c->id)) == DB_OK)
		rc = rel_event(r, EV_DELETED, &prev);
	relship_clear(&prev);
	return rc;
}

static enum db_rc
txn_rel_get(struct req *r, void *arg, struct problem *pb)
{
	struct rctx	*c = arg;

	relship_clear(&c->out);
	return load_rel(r, c, false, &c->out, pb);
}

/* Read and validate a JSON body into c->in; -1 with pb. */
static int
read_rel_body(struct req *r, struct rctx *c, struct problem *pb)
{
	json_object	*o;
	int		 rc;

	if (req_want_type(r, json_types, pb) == -1 ||
	    req_read_body(r, pb) == -1 || (o = req_json(r, pb)) == NULL)
		return -1;
	rc = relship_from_json(o, &c->in, pb);
	json_object_put(o);
	return rc;
}

static void
rel_respond(struct req *r, int status, const struct relship *rel)
{
	json_object	*o = relship_to_json(rel);
	char		 id[UUID_STRLEN + 1];

	if (status == 201) {
		uuid_fmt(&rel->id, id);
		resp_header(r, "Location: /relationships/%s", id);
	}
	resp_header(r, "ETag: \"%lld\"", rel->version);
	resp_json(r, status, o);
	json_object_put(o);
}

static void
rel_finish(struct req *r, struct rctx *c, enum db_rc rc, struct problem *pb,
    int status)
{
	if (rc != DB_OK)
		api_db_error(r, rc);
	else if (pb->err != RLX_OK)
		resp_problem(r, pb);
	else if (status == 204)
		resp_empty(r, 204);
	else
		rel_respond(r, status, &c->out);
}

void
h_relationships(struct req *r)
{
	struct rctx	 c;
	struct problem	 pb;
	enum db_rc	 rc = DB_OK;

	memset(&c, 0, sizeof(c));
	problem_init(&pb);
	if (read_rel_body(r, &c, &pb) == 0) {
		uuid_v7(&c.in.id);
		rc = api_txn(r, txn_rel_create, &c, &pb);
	}
	rel_finish(r, &c, rc, &pb, 201);
	relship_clear(&c.in);
	relship_clear(&c.out);
	problem_clear(&pb);
}

void
h_relationship(struct req *r)
{
	struct rctx	 c;
	struct problem	 pb;
	enum db_rc	 rc = DB_OK;
	int		 status = 200;

	memset(&c, 0, sizeof(c));
	problem_init(&pb);
	if (uuid_parse(r->m.param[0], &c.id) == -1) {
		resp_error(r, RLX_NOTFOUND, "No relationship has this id.");
		return;
	}
	switch (r->method) {
	case M_GET:
	case M_HEAD:
		rc = api_txn(r, txn_rel_get, &c, &pb);
		break;
	case M_PUT:
		if (read_rel_body(r, &c, &pb) == 0)
			rc = api_txn(r, txn_rel_replace, &c, &pb);
		break;
	case M_PATCH:
		if (req_want_type(r, patch_types, &pb) == 0 &&
		    req_read_body(r, &pb) == 0 &&
		    (c.patch = req_json(r, &pb)) != NULL)
			rc = api_txn(r, txn_rel_replace, &c, &pb);
		break;
	case M_DELETE:
		rc = api_txn(r, txn_rel_delete, &c, &pb);
		status = 204;
		break;
	default:
		abort();
	}
	rel_finish(r, &c, rc, &pb, status);
	json_object_put(c.patch);
	relship_clear(&c.in);
	relship_clear(&c.out);
	problem_clear(&pb);
}

struct rlctx {
	struct relship_filter	 f;
	struct relship		*items;
	size_t			 n;
	bool			 party_found;
};

static enum db_rc
txn_rel_list(struct req *r, void *arg, struct problem *pb)
{
	struct rlctx	*l = arg;
	struct party	 p;
	enum db_rc	 rc;

	relship_list_free(l->items, l->n);
	l->items = NULL;
	l->n = 0;
	if ((rc = db_party_load(r->api->db, l->f.party, false, &p,
	    &l->party_found)) != DB_OK)
		return rc;
	party_clear(&p);
	if (!l->party_found) {
		problem_set(pb, RLX_NOTFOUND, "No party has this id.");
		return DB_OK;
	}
	return db_relship_list(r->api->db, &l->f, &l->items, &l->n);
}

static const char *const rel_list_params[] = { "limit", "cursor", "type",
	"direction", "current", NULL };

static int
rel_list_filter(struct req *r, struct relship_filter *f, struct problem *pb)
{
	enum party_type	 a, b;
	struct cursor	 cur;
	const char	*v;
	int64_t		 n;
	bool		 x, y;

	memset(&cur, 0, sizeof(cur));
	if (req_check_query(r, rel_list_params, pb) == -1)
		return -1;
	f->limit = (int)r->api->conf.api_page_default;
	if ((v = req_query(r, "limit")) != NULL) {
		if (parse_int64(v, 1, 200, &n) == -1) {
			problem_set(pb, RLX_BADREQ, "limit must be 1 to 200.");
			return -1;
		}
		f->limit = (int)n;
	}
	if ((v = req_query(r, "cursor")) != NULL &&
	    (cursor_decode(v, &cur) == -1 || cur.kind != CURSOR_ID)) {
		problem_set(pb, RLX_BADREQ, "The cursor is not valid.");
		return -1;
	}
	f->after = cur.id;
	if ((v = req_query(r, "type")) != NULL &&
	    !relship_type_rule(v, &a, &b, &x, &y)) {
		problem_set(pb, RLX_BADREQ, "Unknown relationship type.");
		return -1;
	}
	f->type = v;
	v = req_query(r, "direction");
	if (v == NULL || strcmp(v, "both") == 0)
		f->direction = REL_BOTH;
	else if (strcmp(v, "from") == 0 || strcmp(v, "outgoing") == 0)
		f->direction = REL_FROM;
	else if (strcmp(v, "to") == 0 || strcmp(v, "incoming") == 0)
		f->direction = REL_TO;
	else {
		problem_set(pb, RLX_BADREQ, "direction is from, to or both.");
		return -1;
	}
	v = req_query(r, "current");
	if (v != NULL && strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
		problem_set(pb, RLX_BADREQ, "current is true or false.");
		return -1;
	}
	f->current = v != NULL && strcmp(v, "true") == 0;
	return 0;
}

void
h_party_relationships(struct req *r)
{
	struct rlctx	 l;
	struct problem	 pb;
	struct uuid	 party;
	struct cursor	 c;
	json_object	*o, *arr;
	enum db_rc	 rc;
	char		*cur = NULL;
	size_t		 i, shown;
	int		 want;

	memset(&l, 0, sizeof(l));
	problem_init(&pb);
	if (api_party_param(r, &party) == -1)
		return;
	l.f.party = &party;
	if (rel_list_filter(r, &l.f, &pb) == -1) {
		resp_problem(r, &pb);
		goto out;
	}
	want = l.f.limit;
	l.f.limit = want + 1;
	if ((rc = api_txn(r, txn_rel_list, &l, &pb)) != DB_OK) {
		api_db_error(r, rc);
		goto out;
	}
	if (pb.err != RLX_OK) {
		resp_problem(r, &pb);
		goto out;
	}
	shown = l.n > (size_t)want ? (size_t)want : l.n;
	arr = json_object_new_array();
	for (i = 0; i < shown; i++)
		json_object_array_add(arr, relship_to_json(&l.items[i]));
	o = json_object_new_object();
	json_object_object_add(o, "items", arr);
	if (l.n > (size_t)want) {
		memset(&c, 0, sizeof(c));
		c.kind = CURSOR_ID;
		c.id = l.items[shown - 1].id;
		cur = cursor_encode(&c);
		api_link_next(r, cur);
	}
	jsonx_add_str(o, "next_cursor", cur);
	resp_json(r, 200, o);
	json_object_put(o);
out:
	free(cur);
	relship_list_free(l.items, l.n);
	problem_clear(&pb);
}
