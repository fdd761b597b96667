/*
 * Rolodex - relationships: the type table, JSON and the database
 * (see relship.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "relship.h"
#include "valid.h"
#include "xalloc.h"

#define ANY	PARTY__MAX

/* Which party types each relationship type joins (ANY: either). */
static const struct {
	const char	*name;
	enum party_type	 from, to;
} rel_types[] = {
	{ "employee-of", PARTY_PERSON, PARTY_ORG },
	{ "director-of", PARTY_PERSON, PARTY_ORG },
	{ "member-of", ANY, PARTY_ORG },
	{ "subsidiary-of", PARTY_ORG, PARTY_ORG },
	{ "spouse-of", PARTY_PERSON, PARTY_PERSON },
	{ "related-to", ANY, ANY },
};

#define NOTES_MAX	2000

bool
relship_type_rule(const char *t, enum party_type *from, enum party_type *to,
    bool *any_from, bool *any_to)
{
	size_t	 i;

	for (i = 0; i < sizeof(rel_types) / sizeof(rel_types[0]); i++) {
		if (strcmp(rel_types[i].name, t) != 0)
			continue;
		*any_from = rel_types[i].from == ANY;
		*any_to = rel_types[i].to == ANY;
		*from = *any_from ? PARTY_PERSON : rel_types[i].from;
		*to = *any_to ? PARTY_PERSON : rel_types[i].to;
		return true;
	}
	return false;
}

void
relship_clear(struct relship *r)
{
	free(r->type);
	free(r->start_date);
	free(r->end_date);
	free(r->notes);
	memset(r, 0, sizeof(*r));
}

/* Member k of o as a string (NULL when absent or null); -1 if not one. */
static int
get_str(json_object *o, const char *k, const char **out)
{
	json_object	*v = NULL;

	*out = NULL;
	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	*out = json_object_get_string(v);
	return strlen(*out) == (size_t)json_object_get_string_len(v) ? 0 : -1;
}

static void
parse_party_ref(json_object *o, const char *k, struct uuid *u,
    struct problem *pb)
{
	const char	*s;
	char		 ptr[32];

	snprintf(ptr, sizeof(ptr), "/%s", k);
	if (get_str(o, k, &s) == -1 || (s != NULL && uuid_parse(s, u) == -1))
		problem_field(pb, ptr, "must be a party id (UUID)");
	else if (s == NULL)
		problem_field(pb, ptr, "is required");
}

static char *
parse_date(json_object *o, const char *k, struct problem *pb)
{
	const char	*s;
	char		 ptr[32];

	snprintf(ptr, sizeof(ptr), "/%s", k);
	if (get_str(o, k, &s) == -1 || (s != NULL && !valid_date(s))) {
		problem_field(pb, ptr, "must be a date YYYY-MM-DD");
		return NULL;
	}
	return s == NULL ? NULL : xstrdup(s);
}

int
relship_from_json(json_object *o, struct relship *r, struct problem *pb)
{
	static const char *const known[] = { "relationship_type",
	    "from_party_id", "to_party_id", "start_date", "end_date", "notes",
	    NULL };
	static const char *const readonly[] = { "relationship_id", "version",
	    "created_at", "updated_at", NULL };
	enum party_type	 f, t;
	const char	*s, *const *k;
	char		 tok[128];
	bool		 af, at;

	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(o, json_type_object)) {
		problem_field(pb, "", "must be a JSON object");
		return -1;
	}
	json_object_object_foreach(o, key, val) {
		(void)val;
		for (k = known; *k != NULL && strcmp(*k, key) != 0; k++)
			;
		if (*k != NULL)
			continue;
		for (k = readonly; *k != NULL && strcmp(*k, key) != 0; k++)
			;
		pb->err = RLX_BADREQ;
		snprintf(pb->detail, sizeof(pb->detail), "The request body has "
		    "members this resource does not accept.");
		jsonx_pointer_token(tok + 1, sizeof(tok) - 1, key);
		tok[0] = '/';
		problem_field(pb, tok, *k != NULL ? "is read-only" :
		    "is not a known field");
	}
	if (get_str(o, "relationship_type", &s) == -1 || s == NULL ||
	    !relship_type_rule(s, &f, &t, &af, &at))
		problem_field(pb, "/relationship_type", "must be one of "
		    "employee-of, director-of, member-of, subsidiary-of, "
		    "spouse-of, related-to");
	else
		r->type = xstrdup(s);
	parse_party_ref(o, "from_party_id", &r->from, pb);
	parse_party_ref(o, "to_party_id", &r->to, pb);
	r->start_date = parse_date(o, "start_date", pb);
	r->end_date = parse_date(o, "end_date", pb);
	if (get_str(o, "notes", &s) == -1 || (s != NULL &&
	    (!valid_utf8(s, strlen(s)) || !valid_text(s, 1, NOTES_MAX))))
		problem_field(pb, "/notes", "must be 1 to %d characters of "
		    "text", NOTES_MAX);
	else if (s != NULL)
		r->notes = xstrdup(s);
	if (r->start_date != NULL && r->end_date != NULL &&
	    strcmp(r->end_date, r->start_date) < 0)
		problem_field(pb, "/end_date", "must not be before start_date");
	if (pb->err == RLX_OK && memcmp(&r->from, &r->to, 16) == 0)
		problem_field(pb, "/to_party_id", "a party cannot be related "
		    "to itself");
	if (pb->err != RLX_OK) {
		relship_clear(r);
		return -1;
	}
	return 0;
}

static void
add_writable(json_object *o, const struct relship *r)
{
	char	 id[UUID_STRLEN + 1];

	jsonx_add_str(o, "relationship_type", r->type);
	uuid_fmt(&r->from, id);
	jsonx_add_str(o, "from_party_id", id);
	uuid_fmt(&r->to, id);
	jsonx_add_str(o, "to_party_id", id);
	jsonx_add_str(o, "start_date", r->start_date);
	jsonx_add_str(o, "end_date", r->end_date);
	jsonx_add_str(o, "notes", r->notes);
}

json_object *
relship_to_json(const struct relship *r)
{
	json_object	*o = json_object_new_object();
	char		 id[UUID_STRLEN + 1];

	uuid_fmt(&r->id, id);
	jsonx_add_str(o, "relationship_id", id);
	add_writable(o, r);
	jsonx_add_int(o, "version", r->version);
	jsonx_add_str(o, "created_at", r->created_at);
	jsonx_add_str(o, "updated_at", r->updated_at);
	return o;
}

json_object *
relship_input_json(const struct relship *r)
{
	json_object	*o = json_object_new_object();

	add_writable(o, r);
	return o;
}

static bool
str_eq(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

bool
relship_same(const struct relship *a, const struct relship *b)
{
	return str_eq(a->type, b->type) && memcmp(&a->from, &b->from, 16) ==
	    0 && memcmp(&a->to, &b->to, 16) == 0 &&
	    str_eq(a->start_date, b->start_date) &&
	    str_eq(a->end_date, b->end_date) && str_eq(a->notes, b->notes);
}

/* The type of party id, share-locked; *found false if none. */
static enum db_rc
party_type_locked(struct db *db, const struct uuid *id, enum party_type *t,
    bool *found)
{
	struct db_arg	 arg = DB_BIN(id->b, 16);
	struct db_rows	 r;
	enum db_rc	 rc;

	*found = false;
	if ((rc = db_exec(db, STMT_PARTY_TYPE_SHARE, &arg, 1, &r, NULL)) !=
	    DB_OK)
		return rc;
	if (r.nrows == 1) {
		*found = party_type_parse(db_cell(&r, 0, 0), t) == 0;
	}
	db_rows_clear(&r);
	return DB_OK;
}

enum db_rc
relship_check_parties(struct db *db, const struct relship *r,
    struct problem *pb)
{
	enum party_type	 want_f, want_t, f, t;
	enum db_rc	 rc;
	bool		 any_f, any_t, found_f, found_t;

	if (!relship_type_rule(r->type, &want_f, &want_t, &any_f, &any_t))
		abort();
	if ((rc = party_type_locked(db, &r->from, &f, &found_f)) != DB_OK ||
	    (rc = party_type_locked(db, &r->to, &t, &found_t)) != DB_OK)
		return rc;
	if (!found_f)
		problem_field(pb, "/from_party_id", "no party has this id");
	else if (!any_f && f != want_f)
		problem_field(pb, "/from_party_id", "%s needs a %s here; this "
		    "party is a %s", r->type, party_type_name(want_f),
		    party_type_name(f));
	if (!found_t)
		problem_field(pb, "/to_party_id", "no party has this id");
	else if (!any_t && t != want_t)
		problem_field(pb, "/to_party_id", "%s needs a %s here; this "
		    "party is a %s", r->type, party_type_name(want_t),
		    party_type_name(t));
	return DB_OK;
}

/* Columns of the relationship reads (see STMT_REL_GET). */
static void
relship_decode(const struct db_rows *rows, size_t i, struct relship *r)
{
	memset(r, 0, sizeof(*r));
	db_cell_bin16(rows, i, 0, r->id.b);
	r->type = db_cell_dup(rows, i, 1);
	db_cell_bin16(rows, i, 2, r->from.b);
	db_cell_bin16(rows, i, 3, r->to.b);
	r->start_date = db_cell_dup(rows, i, 4);
	r->end_date = db_cell_dup(rows, i, 5);
	r->notes = db_cell_dup(rows, i, 6);
	r->version = strtoll(db_cell(rows, i, 7), NULL, 10);
	snprintf(r->created_at, sizeof(r->created_at), "%s",
	    db_cell(rows, i, 8));
	snprintf(r->updated_at, sizeof(r->updated_at), "%s",
	    db_cell(rows, i, 9));
}

enum db_rc
db_relship_load(struct db *db, const struct uuid *id, bool lock,
    struct relship *r, bool *found)
{
	struct db_arg	 arg = DB_BIN(id->b, 16);
	struct db_rows	 rows;
	enum db_rc	 rc;

	memset(r, 0, sizeof(*r));
	*found = false;
	if ((rc = db_exec(db, lock ? STMT_REL_GET_LOCK : STMT_REL_GET, &arg,
	    1, &rows, NULL)) != DB_OK)
		return rc;
	if (rows.nrows == 1) {
		relship_decode(&rows, 0, r);
		*found = true;
	}
	db_rows_clear(&rows);
	return DB_OK;
}

enum db_rc
db_relship_insert(struct db *db, const struct relship *r)
{
	struct db_arg	 a[] = { DB_BIN(r->id.b, 16), db_str(r->type),
	    DB_BIN(r->from.b, 16), DB_BIN(r->to.b, 16), db_str(r->start_date),
	    db_str(r->end_date), db_str(r->notes) };

	return db_exec(db, STMT_REL_INSERT, a, 7, NULL, NULL);
}

enum db_rc
db_relship_update(struct db *db, const struct relship *r)
{
	struct db_arg	 a[] = { db_str(r->type), DB_BIN(r->from.b, 16),
	    DB_BIN(r->to.b, 16), db_str(r->start_date), db_str(r->end_date),
	    db_str(r->notes), DB_BIN(r->id.b, 16) };

	return db_exec(db, STMT_REL_UPDATE, a, 7, NULL, NULL);
}

enum db_rc
db_relship_delete(struct db *db, const struct uuid *id)
{
	struct db_arg	 a = DB_BIN(id->b, 16);

	return db_exec(db, STMT_REL_DELETE, &a, 1, NULL, NULL);
}

enum db_rc
db_relship_list(struct db *db, const struct relship_filter *f,
    struct relship **out, size_t *n)
{
	struct db_rows	 rows;
	enum db_rc	 rc;
	size_t		 i;
	struct db_arg	 a[] = {
		DB_INT(f->direction != REL_TO), DB_BIN(f->party->b, 16),
		DB_INT(f->direction != REL_FROM), DB_BIN(f->party->b, 16),
		DB_BIN(f->after.b, 16), db_str(f->type), db_str(f->type),
		DB_INT(f->current), DB_INT(f->limit),
	};

	*out = NULL;
	*n = 0;
	if ((rc = db_exec(db, STMT_REL_LIST, a, sizeof(a) / sizeof(a[0]),
	    &rows, NULL)) != DB_OK)
		return rc;
	*out = xcalloc(rows.nrows + 1, sizeof(**out));
	for (i = 0; i < rows.nrows; i++)
		relship_decode(&rows, i, &(*out)[i]);
	*n = rows.nrows;
	db_rows_clear(&rows);
	return DB_OK;
}

enum db_rc
db_relship_ids_of_party(struct db *db, const struct uuid *party,
    struct uuid **ids, size_t *n)
{
	struct db_arg	 a[] = { DB_BIN(party->b, 16), DB_BIN(party->b, 16) };
	struct db_rows	 rows;
	enum db_rc	 rc;
	size_t		 i;

	*ids = NULL;
	*n = 0;
	if ((rc = db_exec(db, STMT_REL_IDS_OF_PARTY, a, 2, &rows, NULL)) !=
	    DB_OK)
		return rc;
	*ids = xcalloc(rows.nrows + 1, sizeof(**ids));
	for (i = 0; i < rows.nrows; i++)
		db_cell_bin16(&rows, i, 0, (*ids)[i].b);
	*n = rows.nrows;
	db_rows_clear(&rows);
	return DB_OK;
}

void
relship_list_free(struct relship *rs, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		relship_clear(&rs[i]);
	free(rs);
}
