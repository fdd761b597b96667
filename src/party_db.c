/*
 * Rolodex - parties in the database (see party.h).
 *
 * A party is a party row, a person or organisation row, links to address
 * rows and external identifier rows.  Writers hold the party row lock
 * (db_party_load with lock) for the whole transaction, so versions of one
 * party increase by one per committed change with no gaps.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "party.h"
#include "xalloc.h"

/* Column of each attribute in a party row (enum pcol). */
static const enum pcol pfield_col[PF__MAX] = {
	[PF_TITLE] = PCOL_TITLE, [PF_FIRST_NAME] = PCOL_FIRST,
	[PF_MIDDLE_NAMES] = PCOL_MIDDLE, [PF_LAST_NAME] = PCOL_LAST,
	[PF_PREFERRED_NAME] = PCOL_PREFERRED, [PF_ORG_NAME] = PCOL_ORGNAME,
	[PF_ORG_TYPE] = PCOL_ORGTYPE, [PF_TRADING_NAME] = PCOL_TRADING,
	[PF_EMAIL] = PCOL_EMAIL, [PF_PHONE_PRIMARY] = PCOL_PHONE1,
	[PF_PHONE_SECONDARY] = PCOL_PHONE2, [PF_DATE_OF_BIRTH] = PCOL_DOB,
	[PF_REG_NUMBER] = PCOL_REGNO, [PF_WEBSITE] = PCOL_WEBSITE,
};

static void
party_decode(const struct db_rows *r, size_t row, struct party *p)
{
	enum party_type	 t = PARTY_PERSON;
	size_t		 i;

	party_type_parse(db_cell(r, row, PCOL_TYPE), &t);
	party_init(p, t);
	db_cell_bin16(r, row, PCOL_ID, p->id.b);
	for (i = 0; i < PF__MAX; i++)
		if (pfield_applies((enum pfield)i, t))
			p->v[i] = db_cell_dup(r, row, pfield_col[i]);
	p->display_name = db_cell_dup(r, row, PCOL_DISPLAY);
	p->version = strtoll(db_cell(r, row, PCOL_VERSION), NULL, 10);
	snprintf(p->created_at, sizeof(p->created_at), "%s",
	    db_cell(r, row, PCOL_CREATED));
	snprintf(p->updated_at, sizeof(p->updated_at), "%s",
	    db_cell(r, row, PCOL_UPDATED));
}

static void
address_decode(const struct db_rows *r, size_t row, struct address *a)
{
	size_t	 i;

	memset(a, 0, sizeof(*a));
	db_cell_bin16(r, row, ACOL_ID, a->id.b);
	a->has_id = true;
	for (i = 0; i < AF__MAX; i++)
		a->f[i] = db_cell_dup(r, row, ACOL_TYPE + i);
	a->is_primary = strcmp(db_cell(r, row, ACOL_PRIMARY), "1") == 0;
}

/* Load the addresses and identifiers of p. */
static enum db_rc
party_load_children(struct db *db, struct party *p)
{
	struct db_arg	 arg = DB_BIN(p->id.b, 16);
	struct db_rows	 r;
	struct address	 a;
	enum db_rc	 rc;
	size_t		 i;

	if ((rc = db_exec(db, STMT_ADDR_LIST, &arg, 1, &r, NULL)) != DB_OK)
		return rc;
	for (i = 0; i < r.nrows; i++) {
		address_decode(&r, i, &a);
		party_add_address(p, &a);
		address_clear(&a);
	}
	db_rows_clear(&r);
	if ((rc = db_exec(db, STMT_EXTID_LIST, &arg, 1, &r, NULL)) != DB_OK)
		return rc;
	p->ext = xcalloc(r.nrows + 1, sizeof(*p->ext));
	for (i = 0; i < r.nrows; i++) {
		p->ext[i].system = db_cell_dup(&r, i, 0);
		p->ext[i].identifier = db_cell_dup(&r, i, 1);
		p->ext[i].last_synced = db_cell_dup(&r, i, 2);
	}
	p->next = r.nrows;
	db_rows_clear(&r);
	return DB_OK;
}

enum db_rc
db_party_load(struct db *db, const struct uuid *id, bool lock,
    struct party *p, bool *found)
{
	struct db_arg	 arg = DB_BIN(id->b, 16);
	struct db_rows	 r;
	enum db_rc	 rc;

	*found = false;
	party_init(p, PARTY_PERSON);
	if ((rc = db_exec(db, lock ? STMT_PARTY_GET_LOCK : STMT_PARTY_GET,
	    &arg, 1, &r, NULL)) != DB_OK)
		return rc;
	if (r.nrows == 0) {
		db_rows_clear(&r);
		return DB_OK;
	}
	party_decode(&r, 0, p);
	db_rows_clear(&r);
	*found = true;
	if ((rc = party_load_children(db, p)) != DB_OK)
		party_clear(p);
	return rc;
}

enum db_rc
db_party_list(struct db *db, const struct party_filter *f,
    struct party **out, size_t *n)
{
	const char	*type = f->type == NULL ? NULL :
			    party_type_name(*f->type);
	char		*like = NULL;
	struct db_rows	 r;
	enum db_rc	 rc;
	size_t		 i, o = 0;

	*out = NULL;
	*n = 0;
	if (f->name_prefix != NULL) {
		/* Escape LIKE metacharacters with '!' (see the statement). */
		like = xmalloc(strlen(f->name_prefix) * 2 + 2);
		for (i = 0; f->name_prefix[i] != '\0'; i++) {
			if (strchr("%_!", f->name_prefix[i]) != NULL)
				like[o++] = '!';
			like[o++] = f->name_prefix[i];
		}
		like[o++] = '%';
		like[o] = '\0';
	}
	struct db_arg args[] = {
		db_str(f->after.key), db_str(f->after.key),
		DB_BIN(f->after.id.b, 16),
		db_str(type), db_str(type), db_str(f->email), db_str(f->email),
		db_str(like), db_str(like),
		db_str(f->updated_since), db_str(f->updated_since),
		db_str(f->ext_system), db_str(f->ext_system),
		db_str(f->ext_identifier), DB_INT(f->limit),
	};
	static const enum stmt by_kind[] = {
		[CURSOR_ID] = STMT_PARTY_LIST_BY_ID,
		[CURSOR_NAME] = STMT_PARTY_LIST_BY_NAME,
		[CURSOR_UPDATED] = STMT_PARTY_LIST_BY_UPDATED,
	};
	size_t	 skip = f->after.kind == CURSOR_ID ? 2 : 0;

	/* By id there is no key: the statement starts at the id. */
	rc = db_exec(db, by_kind[f->after.kind], args + skip,
	    sizeof(args) / sizeof(args[0]) - skip, &r, NULL);
	free(like);
	if (rc != DB_OK)
		return rc;
	*out = xcalloc(r.nrows + 1, sizeof(**out));
	for (i = 0; i < r.nrows; i++) {
		party_decode(&r, i, &(*out)[i]);
		*n = i + 1;
		if ((rc = party_load_children(db, &(*out)[i])) != DB_OK)
			break;
	}
	db_rows_clear(&r);
	if (rc != DB_OK) {
		party_list_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

void
party_list_free(struct party *ps, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		party_clear(&ps[i]);
	free(ps);
}

/* Insert or update the type-specific row of p. */
static enum db_rc
party_write_detail(struct db *db, const struct party *p, bool insert)
{
	struct db_arg	 id = DB_BIN(p->id.b, 16);

	if (p->type == PARTY_PERSON) {
		struct db_arg a[] = {
			id, db_str(p->v[PF_TITLE]), db_str(p->v[PF_FIRST_NAME]),
			db_str(p->v[PF_MIDDLE_NAMES]),
			db_str(p->v[PF_LAST_NAME]),
			db_str(p->v[PF_PREFERRED_NAME]),
			db_str(p->v[PF_DATE_OF_BIRTH]), id,
		};
		return insert ? db_exec(db, STMT_PERSON_INSERT, a, 7, NULL,
		    NULL) : db_exec(db, STMT_PERSON_UPDATE, a + 1, 7, NULL,
		    NULL);
	} else {
		struct db_arg a[] = {
			id, db_str(p->v[PF_ORG_NAME]),
			db_str(p->v[PF_ORG_TYPE]),
			db_str(p->v[PF_TRADING_NAME]),
			db_str(p->v[PF_REG_NUMBER]), db_str(p->v[PF_WEBSITE]),
			id,
		};
		return insert ? db_exec(db, STMT_ORG_INSERT, a, 6, NULL,
		    NULL) : db_exec(db, STMT_ORG_UPDATE, a + 1, 6, NULL, NULL);
	}
}

static enum db_rc
address_write(struct db *db, const struct address *a, bool insert)
{
	struct db_arg	 id = DB_BIN(a->id.b, 16);
	struct db_arg	 args[] = {
		id, db_str(a->f[AF_TYPE]), db_str(a->f[AF_LINE1]),
		db_str(a->f[AF_LINE2]), db_str(a->f[AF_LINE3]),
		db_str(a->f[AF_CITY]), db_str(a->f[AF_REGION]),
		db_str(a->f[AF_POSTAL]), db_str(a->f[AF_COUNTRY]), id,
	};

	return insert ? db_exec(db, STMT_ADDR_INSERT, args, 9, NULL, NULL) :
	    db_exec(db, STMT_ADDR_UPDATE, args + 1, 9, NULL, NULL);
}

static enum db_rc
link_write(struct db *db, const struct uuid *party, const struct address *a,
    enum stmt s)
{
	struct db_arg	 ins[] = { DB_BIN(party->b, 16), DB_BIN(a->id.b, 16),
	    DB_INT(a->is_primary) };
	struct db_arg	 upd[] = { DB_INT(a->is_primary), DB_BIN(party->b, 16),
	    DB_BIN(a->id.b, 16) };

	switch (s) {
	case STMT_LINK_INSERT:
		return db_exec(db, s, ins, 3, NULL, NULL);
	case STMT_LINK_UPDATE:
		return db_exec(db, s, upd, 3, NULL, NULL);
	case STMT_LINK_DELETE:
		return db_exec(db, s, upd + 1, 2, NULL, NULL);
	default:
		abort();
	}
}

static enum db_rc address_sharers(struct db *, const struct uuid *,
    const struct address *, struct uuid **, size_t *);

/*
 * Link address a (which p did not have) to p: an address that already
 * exists (another party's, named by address_id) is updated when the
 * given content differs, otherwise it is inserted.  *changed_shared
 * tells whether an existing address changed (its other parties must
 * then be told).
 */
static enum db_rc
address_attach(struct db *db, const struct uuid *party,
    const struct address *a, bool *changed_shared)
{
	struct address	 cur;
	enum db_rc	 rc;
	bool		 exists;

	*changed_shared = false;
	if ((rc = db_address_get(db, &a->id, &cur, &exists)) != DB_OK)
		return rc;
	if (exists) {
		*changed_shared = !address_same_content(&cur, a);
		address_clear(&cur);
	}
	if ((!exists || *changed_shared) &&
	    (rc = address_write(db, a, !exists)) != DB_OK)
		return rc;
	return link_write(db, party, a, STMT_LINK_INSERT);
}

static enum db_rc
address_detach(struct db *db, const struct uuid *party,
    const struct address *a)
{
	struct db_arg	 args[] = { DB_BIN(a->id.b, 16), DB_BIN(a->id.b, 16) };
	enum db_rc	 rc;

	if ((rc = link_write(db, party, a, STMT_LINK_DELETE)) != DB_OK)
		return rc;
	return db_exec(db, STMT_ADDR_DELETE_IF_ORPHAN, args, 2, NULL, NULL);
}

static enum db_rc
extid_write(struct db *db, const struct uuid *party, const char *system,
    const char *ident)
{
	struct db_arg	 args[] = { DB_BIN(party->b, 16), db_str(system),
	    db_str(ident) };

	if (ident == NULL)
		return db_exec(db, STMT_EXTID_DELETE, args, 2, NULL, NULL);
	return db_exec(db, STMT_EXTID_UPSERT, args, 3, NULL, NULL);
}

enum db_rc
db_party_insert(struct db *db, const struct party *p, struct uuid **others,
    size_t *nothers)
{
	struct db_arg	 args[] = {
		DB_BIN(p->id.b, 16), db_str(party_type_name(p->type)),
		db_str(p->display_name), db_str(p->v[PF_EMAIL]),
		db_str(p->v[PF_PHONE_PRIMARY]),
		db_str(p->v[PF_PHONE_SECONDARY]),
	};
	enum db_rc	 rc;
	size_t		 i;
	bool		 shared;

	if ((rc = db_exec(db, STMT_PARTY_INSERT, args, 6, NULL, NULL)) != DB_OK)
		return rc;
	if ((rc = party_write_detail(db, p, true)) != DB_OK)
		return rc;
	*others = NULL;
	*nothers = 0;
	for (i = 0; i < p->naddr && rc == DB_OK; i++) {
		rc = address_attach(db, &p->id, &p->addr[i], &shared);
		if (rc == DB_OK && shared)
			rc = address_sharers(db, &p->id, &p->addr[i], others,
			    nothers);
	}
	for (i = 0; i < p->next && rc == DB_OK; i++)
		rc = extid_write(db, &p->id, p->ext[i].system,
		    p->ext[i].identifier);
	return rc;
}

/* Add the other parties linked to address a to the others list. */
static enum db_rc
address_sharers(struct db *db, const struct uuid *party,
    const struct address *a, struct uuid **others, size_t *n)
{
	struct db_arg	 args[] = { DB_BIN(a->id.b, 16),
	    DB_BIN(party->b, 16) };
	struct db_rows	 r;
	enum db_rc	 rc;
	size_t		 i, j;
	struct uuid	 u;

	if ((rc = db_exec(db, STMT_ADDR_PARTIES, args, 2, &r, NULL)) != DB_OK)
		return rc;
	for (i = 0; i < r.nrows; i++) {
		db_cell_bin16(&r, i, 0, u.b);
		for (j = 0; j < *n; j++)
			if (memcmp(&(*others)[j], &u, sizeof(u)) == 0)
				break;
		if (j < *n)
			continue;
		*others = xreallocarray(*others, *n + 1, sizeof(u));
		(*others)[(*n)++] = u;
	}
	db_rows_clear(&r);
	return DB_OK;
}

/* Bring the address links of prev to those of next. */
static enum db_rc
party_sync_addresses(struct db *db, const struct party *prev,
    const struct party *next, struct uuid **others, size_t *nothers)
{
	const struct address	*old, *a;
	enum db_rc		 rc = DB_OK;
	size_t			 i;
	bool			 shared;

	for (i = 0; i < prev->naddr && rc == DB_OK; i++)
		if (party_find_address(next, &prev->addr[i].id) == NULL)
			rc = address_detach(db, &prev->id, &prev->addr[i]);
	for (i = 0; i < next->naddr && rc == DB_OK; i++) {
		a = &next->addr[i];
		if ((old = party_find_address(prev, &a->id)) == NULL) {
			rc = address_attach(db, &next->id, a, &shared);
			if (rc == DB_OK && shared)
				rc = address_sharers(db, &next->id, a, others,
				    nothers);
			continue;
		}
		if (!address_same_content(old, a)) {
			rc = address_write(db, a, false);
			if (rc == DB_OK)
				rc = address_sharers(db, &next->id, a, others,
				    nothers);
		}
		if (rc == DB_OK && old->is_primary != a->is_primary)
			rc = link_write(db, &next->id, a, STMT_LINK_UPDATE);
	}
	return rc;
}

static enum db_rc
party_sync_extids(struct db *db, const struct party *prev,
    const struct party *next)
{
	const char	*cur;
	enum db_rc	 rc = DB_OK;
	size_t		 i;

	for (i = 0; i < prev->next && rc == DB_OK; i++)
		if (party_extid(next, prev->ext[i].system) == NULL)
			rc = extid_write(db, &prev->id, prev->ext[i].system,
			    NULL);
	for (i = 0; i < next->next && rc == DB_OK; i++) {
		cur = party_extid(prev, next->ext[i].system);
		if (cur == NULL || strcmp(cur, next->ext[i].identifier) != 0)
			rc = extid_write(db, &next->id, next->ext[i].system,
			    next->ext[i].identifier);
	}
	return rc;
}

enum db_rc
db_party_update(struct db *db, const struct party *prev,
    const struct party *next, struct uuid **others, size_t *nothers)
{
	struct db_arg	 args[] = {
		db_str(next->display_name), db_str(next->v[PF_EMAIL]),
		db_str(next->v[PF_PHONE_PRIMARY]),
		db_str(next->v[PF_PHONE_SECONDARY]), DB_BIN(next->id.b, 16),
	};
	enum db_rc	 rc;

	*others = NULL;
	*nothers = 0;
	if ((rc = db_exec(db, STMT_PARTY_UPDATE, args, 5, NULL, NULL)) != DB_OK)
		return rc;
	if ((rc = party_write_detail(db, next, false)) != DB_OK)
		return rc;
	if ((rc = party_sync_addresses(db, prev, next, others, nothers)) !=
	    DB_OK)
		return rc;
	return party_sync_extids(db, prev, next);
}

enum db_rc
db_party_bump(struct db *db, const struct uuid *id)
{
	struct db_arg	 arg = DB_BIN(id->b, 16);

	return db_exec(db, STMT_PARTY_BUMP, &arg, 1, NULL, NULL);
}

enum db_rc
db_party_delete(struct db *db, const struct party *p)
{
	struct db_arg	 arg = DB_BIN(p->id.b, 16);
	enum db_rc	 rc = DB_OK;
	size_t		 i;

	/* Addresses first, so ones no other party uses go too. */
	for (i = 0; i < p->naddr && rc == DB_OK; i++)
		rc = address_detach(db, &p->id, &p->addr[i]);
	if (rc != DB_OK)
		return rc;
	return db_exec(db, STMT_PARTY_DELETE, &arg, 1, NULL, NULL);
}

enum db_rc
db_extid_owner(struct db *db, const char *system, const char *ident,
    struct uuid *owner, bool *found)
{
	struct db_arg	 args[] = { db_str(system), db_str(ident) };
	struct db_rows	 r;
	enum db_rc	 rc;

	*found = false;
	if ((rc = db_exec(db, STMT_EXTID_OWNER, args, 2, &r, NULL)) != DB_OK)
		return rc;
	if (r.nrows > 0) {
		db_cell_bin16(&r, 0, 0, owner->b);
		*found = true;
	}
	db_rows_clear(&r);
	return DB_OK;
}

enum db_rc
db_address_get(struct db *db, const struct uuid *id, struct address *a,
    bool *found)
{
	struct db_arg	 arg = DB_BIN(id->b, 16);
	struct db_rows	 r;
	enum db_rc	 rc;

	*found = false;
	if ((rc = db_exec(db, STMT_ADDR_GET, &arg, 1, &r, NULL)) != DB_OK)
		return rc;
	if (r.nrows > 0) {
		*found = true;
		if (a != NULL)
			address_decode(&r, 0, a);
	}
	db_rows_clear(&r);
	return DB_OK;
}

enum db_rc
db_address_exists(struct db *db, const struct uuid *id, bool *found)
{
	return db_address_get(db, id, NULL, found);
}
