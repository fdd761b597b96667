/*
 * Rolodex - a party's addresses and external identifiers as
 * sub-resources.
 *
 * Each operation is a change of the whole party: load it locked, derive
 * the next state (add, replace or drop one address or identifier), and
 * hand both to api_party_change(), which stores the difference, bumps
 * the version and emits the party's Updated event.  So a sub-resource
 * write obeys exactly the rules of a PUT of the party.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonx.h"
#include "party.h"
#include "valid.h"
#include "xalloc.h"

enum subop { SUB_ADDR_ADD, SUB_ADDR_PUT, SUB_ADDR_DEL, SUB_EXT_PUT,
	SUB_EXT_DEL, SUB_READ };

struct sctx {
	enum subop	 op;
	struct uuid	 party_id;
	struct uuid	 address_id;	/* SUB_ADDR_PUT, SUB_ADDR_DEL */
	struct address	 addr;		/* SUB_ADDR_ADD, SUB_ADDR_PUT */
	char		 system[ROUTE_PARAM_MAX];	/* SUB_EXT_* */
	char		*identifier;	/* SUB_EXT_PUT */
	struct party	 out;
	bool		 changed;
	bool		 created;	/* a new address or identifier */
	bool		 link_only;	/* POST {address_id, is_primary} */
};

static const char *const json_types[] = { "application/json", NULL };

static ssize_t
address_index(const struct party *p, const struct uuid *id)
{
	const struct address	*a = party_find_address(p, id);

	return a == NULL ? -1 : a - p->addr;
}

/* A deep copy of p's writable state, the start of the next state. */
static void
party_dup(struct party *dst, const struct party *src)
{
	size_t	 i;

	party_init(dst, src->type);
	dst->id = src->id;
	for (i = 0; i < PF__MAX; i++)
		dst->v[i] = src->v[i] == NULL ? NULL : xstrdup(src->v[i]);
	for (i = 0; i < src->naddr; i++)
		party_add_address(dst, &src->addr[i]);
	for (i = 0; i < src->next; i++)
		party_set_extid(dst, src->ext[i].system,
		    src->ext[i].identifier);
}

/* Apply c's operation to next; -1 with pb when it cannot apply. */
static int
sub_apply(struct sctx *c, struct party *next, struct problem *pb)
{
	ssize_t	 i;
	size_t	 j;

	switch (c->op) {
	case SUB_ADDR_ADD:
		if (c->addr.has_id &&
		    address_index(next, &c->addr.id) >= 0) {
			problem_set(pb, RLX_CONFLICT, "The address is already "
			    "linked to this party.");
			return -1;
		}
		if (next->naddr == PARTY_MAX_ADDRESSES) {
			problem_set(pb, RLX_EINVAL, "A party has at most %d "
			    "addresses.", PARTY_MAX_ADDRESSES);
			return -1;
		}
		c->created = true;
		/* FALLTHROUGH */
	case SUB_ADDR_PUT:
		if (c->addr.is_primary)
			for (j = 0; j < next->naddr; j++)
				next->addr[j].is_primary = false;
		if (c->op == SUB_ADDR_ADD) {
			party_add_address(next, &c->addr);
			return 0;
		}
		if ((i = address_index(next, &c->address_id)) < 0)
			goto notfound;
		address_clear(&next->addr[i]);
		address_copy(&next->addr[i], &c->addr);
		next->addr[i].id = c->address_id;
		next->addr[i].has_id = true;
		return 0;
	case SUB_ADDR_DEL:
		if ((i = address_index(next, &c->address_id)) < 0)
			goto notfound;
		party_remove_address(next, (size_t)i);
		return 0;
	case SUB_EXT_PUT:
		c->created = party_extid(next, c->system) == NULL;
		if (c->created && next->next >= PARTY_MAX_EXTIDS) {
			problem_set(pb, RLX_EINVAL, "A party has at most %d "
			    "external identifiers.", PARTY_MAX_EXTIDS);
			return -1;
		}
		party_set_extid(next, c->system, c->identifier);
		return 0;
	case SUB_EXT_DEL:
		if (party_remove_extid(next, c->system) == -1)
			goto notfound;
		return 0;
	default:
		abort();
	}
notfound:
	problem_set(pb, RLX_NOTFOUND, "The party has no such %s.",
	    c->op == SUB_EXT_DEL ? "identifier" : "address");
	return -1;
}

/* The identifier pair must not belong to another party (409). */
static enum db_rc
sub_check_owner(struct req *r, struct sctx *c, struct problem *pb)
{
	struct uuid	 owner;
	enum db_rc	 rc;
	bool		 found;

	if (c->op != SUB_EXT_PUT)
		return DB_OK;
	rc = db_extid_owner(r->api->db, c->system, c->identifier, &owner,
	    &found);
	if (rc == DB_OK && found && memcmp(&owner, &c->party_id, 16) != 0)
		problem_set(pb, RLX_CONFLICT, "This %s identifier belongs to "
		    "another party.", c->system);
	return rc;
}

/* Linking an existing address: take its stored content. */
static enum db_rc
sub_load_linked(struct req *r, struct sctx *c, struct problem *pb)
{
	struct address	 a;
	enum db_rc	 rc;
	bool		 found, primary = c->addr.is_primary;

	rc = db_address_get(r->api->db, &c->addr.id, &a, &found);
	if (rc != DB_OK)
		return rc;
	if (!found) {
		problem_field(pb, "/address_id", "no address has this id");
		return DB_OK;
	}
	address_clear(&c->addr);
	c->addr = a;
	c->addr.is_primary = primary;
	return DB_OK;
}

static enum db_rc
txn_sub(struct req *r, void *arg, struct problem *pb)
{
	struct sctx	*c = arg;
	struct party	 prev, next;
	enum db_rc	 rc;
	bool		 found;

	party_clear(&c->out);
	rc = db_party_load(r->api->db, &c->party_id, c->op != SUB_READ,
	    &prev, &found);
	if (rc != DB_OK)
		return rc;
	if (!found) {
		problem_set(pb, RLX_NOTFOUND, "No party has this id.");
		goto out;
	}
	if (c->op == SUB_READ) {
		c->out = prev;
		return DB_OK;
	}
	if (api_if_match(r, prev.version, pb) == -1 ||
	    (rc = sub_check_owner(r, c, pb)) != DB_OK || pb->err != RLX_OK)
		goto out;
	if (c->link_only && (rc = sub_load_linked(r, c, pb)) != DB_OK)
		goto out;
	if (pb->err != RLX_OK)
		goto out;
	party_dup(&next, &prev);
	if (sub_apply(c, &next, pb) == 0)
		rc = api_party_change(r, &prev, &next, &c->out, &c->changed,
		    pb);
	party_clear(&next);
out:
	party_clear(&prev);
	return rc;
}

/* Run the operation; on success *out holds the party as stored. */
static int
sub_run(struct req *r, struct sctx *c)
{
	struct problem	 pb;
	enum db_rc	 rc;

	problem_init(&pb);
	rc = api_txn(r, txn_sub, c, &pb);
	if (rc != DB_OK)
		api_db_error(r, rc);
	else if (pb.err != RLX_OK)
		resp_problem(r, &pb);
	problem_clear(&pb);
	return rc == DB_OK && r->status == 0 ? 0 : -1;
}

/* Whether a body only names an existing address (and maybe primary). */
static bool
is_link_body(json_object *o)
{
	if (!json_object_is_type(o, json_type_object) ||
	    json_object_object_get(o, "address_id") == NULL)
		return false;
	json_object_object_foreach(o, k, v) {
		(void)v;
		if (strcmp(k, "address_id") != 0 && strcmp(k, "is_primary") != 0)
			return false;
	}
	return true;
}

static int
link_from_json(json_object *o, struct sctx *c, struct problem *pb)
{
	json_object	*v = json_object_object_get(o, "address_id");

	if (!json_object_is_type(v, json_type_string) ||
	    uuid_parse(json_object_get_string(v), &c->addr.id) == -1) {
		problem_field(pb, "/address_id", "must be a UUID");
		return -1;
	}
	c->addr.has_id = true;
	if ((v = json_object_object_get(o, "is_primary")) != NULL) {
		if (!json_object_is_type(v, json_type_boolean)) {
			problem_field(pb, "/is_primary", "must be true or "
			    "false");
			return -1;
		}
		c->addr.is_primary = json_object_get_boolean(v);
	}
	c->link_only = true;
	return 0;
}

static int
read_address_body(struct req *r, struct sctx *c)
{
	struct problem	 pb;
	json_object	*o = NULL;
	int		 rc = -1;

	problem_init(&pb);
	if (req_want_type(r, json_types, &pb) == 0 &&
	    req_read_body(r, &pb) == 0 && (o = req_json(r, &pb)) != NULL)
		rc = c->op == SUB_ADDR_ADD && is_link_body(o) ?
		    link_from_json(o, c, &pb) :
		    address_from_json(o, "", &c->addr, &pb);
	if (rc == 0 && c->op == SUB_ADDR_PUT && c->addr.has_id &&
	    memcmp(&c->addr.id, &c->address_id, 16) != 0) {
		problem_field(&pb, "/address_id", "must match the URL");
		rc = -1;
	}
	if (rc == -1)
		resp_problem(r, &pb);
	json_object_put(o);
	problem_clear(&pb);
	return rc;
}

static void
respond_addresses(struct req *r, const struct party *p)
{
	json_object	*arr = json_object_new_array();
	json_object	*o = json_object_new_object();
	size_t		 i;

	for (i = 0; i < p->naddr; i++)
		json_object_array_add(arr, address_to_json(&p->addr[i]));
	json_object_object_add(o, "items", arr);
	resp_header(r, "ETag: \"%lld\"", p->version);
	resp_json(r, 200, o);
	json_object_put(o);
}

/* Answer with one address of p (by id) and the party's ETag. */
static void
respond_address(struct req *r, int status, const struct party *p,
    const struct uuid *id)
{
	json_object	*o;
	ssize_t		 i = address_index(p, id);
	char		 pid[UUID_STRLEN + 1], aid[UUID_STRLEN + 1];

	if (i < 0) {
		resp_error(r, RLX_NOTFOUND, "The party has no such address.");
		return;
	}
	if (status == 201) {
		uuid_fmt(&p->id, pid);
		uuid_fmt(id, aid);
		resp_header(r, "Location: /parties/%s/addresses/%s", pid, aid);
	}
	o = address_to_json(&p->addr[i]);
	resp_header(r, "ETag: \"%lld\"", p->version);
	resp_json(r, status, o);
	json_object_put(o);
}

/* The address just added: the one in out not in the request's set. */
static const struct uuid *
added_address(const struct sctx *c)
{
	size_t	 i;

	if (c->addr.has_id)
		return &c->addr.id;
	/* Content match: the last address equal to the body. */
	for (i = c->out.naddr; i > 0; i--)
		if (address_same_content(&c->out.addr[i - 1], &c->addr))
			return &c->out.addr[i - 1].id;
	return NULL;
}

void
h_addresses(struct req *r)
{
	struct sctx		 c;
	const struct uuid	*id;

	memset(&c, 0, sizeof(c));
	if (api_party_param(r, &c.party_id) == -1)
		return;
	c.op = r->method == M_POST ? SUB_ADDR_ADD : SUB_READ;
	if (c.op == SUB_ADDR_ADD && read_address_body(r, &c) == -1)
		goto out;
	if (sub_run(r, &c) == -1)
		goto out;
	if (c.op == SUB_READ)
		respond_addresses(r, &c.out);
	else if ((id = added_address(&c)) != NULL)
		respond_address(r, 201, &c.out, id);
	else
		resp_error(r, RLX_INTERNAL, "The address was not stored.");
out:
	address_clear(&c.addr);
	party_clear(&c.out);
}

void
h_address(struct req *r)
{
	struct sctx	 c;

	memset(&c, 0, sizeof(c));
	if (api_party_param(r, &c.party_id) == -1)
		return;
	if (uuid_parse(r->m.param[1], &c.address_id) == -1) {
		resp_error(r, RLX_NOTFOUND, "The party has no such address.");
		return;
	}
	switch (r->method) {
	case M_GET:
	case M_HEAD:
		c.op = SUB_READ;
		break;
	case M_PUT:
		c.op = SUB_ADDR_PUT;
		if (read_address_body(r, &c) == -1)
			goto out;
		break;
	case M_DELETE:
		c.op = SUB_ADDR_DEL;
		break;
	default:
		abort();
	}
	if (sub_run(r, &c) == -1)
		goto out;
	if (c.op == SUB_ADDR_DEL)
		resp_empty(r, 204);
	else
		respond_address(r, 200, &c.out, &c.address_id);
out:
	address_clear(&c.addr);
	party_clear(&c.out);
}

static void
respond_extid(struct req *r, int status, const struct party *p,
    const char *system)
{
	json_object	*o;
	size_t		 i;
	char		 pid[UUID_STRLEN + 1];

	for (i = 0; i < p->next; i++)
		if (strcmp(p->ext[i].system, system) == 0)
			break;
	if (i == p->next) {
		resp_error(r, RLX_NOTFOUND, "The party has no identifier in "
		    "this system.");
		return;
	}
	if (status == 201) {
		uuid_fmt(&p->id, pid);
		resp_header(r, "Location: /parties/%s/external-identifiers/%s",
		    pid, system);
	}
	o = extid_to_json(&p->ext[i]);
	resp_header(r, "ETag: \"%lld\"", p->version);
	resp_json(r, status, o);
	json_object_put(o);
}

void
h_extids(struct req *r)
{
	struct sctx	 c;
	json_object	*arr, *o;
	size_t		 i;

	memset(&c, 0, sizeof(c));
	if (api_party_param(r, &c.party_id) == -1)
		return;
	c.op = SUB_READ;
	if (sub_run(r, &c) == 0) {
		arr = json_object_new_array();
		for (i = 0; i < c.out.next; i++)
			json_object_array_add(arr,
			    extid_to_json(&c.out.ext[i]));
		o = json_object_new_object();
		json_object_object_add(o, "items", arr);
		resp_header(r, "ETag: \"%lld\"", c.out.version);
		resp_json(r, 200, o);
		json_object_put(o);
	}
	party_clear(&c.out);
}

/* Parse {"identifier": "..."} (system_name optional, must match). */
static int
read_extid_body(struct req *r, struct sctx *c)
{
	struct problem	 pb;
	json_object	*o = NULL, *v;
	int		 rc = -1;

	problem_init(&pb);
	if (req_want_type(r, json_types, &pb) == -1 ||
	    req_read_body(r, &pb) == -1 || (o = req_json(r, &pb)) == NULL)
		goto out;
	if (!json_object_is_type(o, json_type_object)) {
		problem_field(&pb, "", "must be a JSON object");
		goto out;
	}
	json_object_object_foreach(o, k, val) {
		(void)val;
		if (strcmp(k, "identifier") != 0 &&
		    strcmp(k, "system_name") != 0) {
			pb.err = RLX_BADREQ;
			problem_field(&pb, "", "only identifier and "
			    "system_name are accepted");
			goto out;
		}
	}
	if ((v = json_object_object_get(o, "system_name")) != NULL &&
	    (!json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), c->system) != 0)) {
		problem_field(&pb, "/system_name", "must match the URL");
		goto out;
	}
	v = json_object_object_get(o, "identifier");
	if (v == NULL || !json_object_is_type(v, json_type_string) ||
	    !valid_identifier(json_object_get_string(v))) {
		problem_field(&pb, "/identifier", "must be 1 to 255 "
		    "characters of text");
		goto out;
	}
	c->identifier = xstrdup(json_object_get_string(v));
	rc = 0;
out:
	if (rc == -1)
		resp_problem(r, &pb);
	json_object_put(o);
	problem_clear(&pb);
	return rc;
}

void
h_extid(struct req *r)
{
	struct sctx	 c;

	memset(&c, 0, sizeof(c));
	if (api_party_param(r, &c.party_id) == -1)
		return;
	if (!valid_system_name(r->m.param[1])) {
		if (r->method == M_PUT)
			resp_error(r, RLX_EINVAL, "A system name is 1 to 64 of "
			    "a-z, 0-9, '.', '_', '-', starting with a letter "
			    "or digit.");
		else
			resp_error(r, RLX_NOTFOUND, "The party has no "
			    "identifier in this system.");
		return;
	}
	snprintf(c.system, sizeof(c.system), "%s", r->m.param[1]);
	switch (r->method) {
	case M_GET:
	case M_HEAD:
		c.op = SUB_READ;
		break;
	case M_PUT:
		c.op = SUB_EXT_PUT;
		if (read_extid_body(r, &c) == -1)
			goto out;
		break;
	case M_DELETE:
		c.op = SUB_EXT_DEL;
		break;
	default:
		abort();
	}
	if (sub_run(r, &c) == -1)
		goto out;
	if (c.op == SUB_EXT_DEL)
		resp_empty(r, 204);
	else
		respond_extid(r, c.created ? 201 : 200, &c.out, c.system);
out:
	free(c.identifier);
	party_clear(&c.out);
}
