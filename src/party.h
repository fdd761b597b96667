/*
 * Rolodex - parties: persons and organisations, their addresses and
 * external identifiers.
 *
 * struct party is the one in-memory form.  party_json.c turns request
 * bodies into it (validating every field against the table in one step)
 * and turns it into the JSON that GET returns and events carry;
 * party_db.c loads and stores it.  Handlers never touch raw json-c
 * objects of a body or raw rows.
 *
 * Invariants: a person has first_name and last_name, an organisation has
 * organisation_name; display_name is always derived, never input; at most
 * one address of a party is primary; a party has at most one identifier
 * per system.
 */
#ifndef ROLODEX_PARTY_H
#define ROLODEX_PARTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "cursor.h"
#include "db.h"
#include "problem.h"
#include "uuid.h"

#define PARTY_MAX_ADDRESSES	20
#define PARTY_MAX_EXTIDS	32

enum party_type {
	PARTY_PERSON,
	PARTY_ORG,
	PARTY__MAX
};

/* Attribute fields of a party, in the order of the JSON representation. */
enum pfield {
	PF_TITLE, PF_FIRST_NAME, PF_MIDDLE_NAMES, PF_LAST_NAME,
	PF_PREFERRED_NAME, PF_ORG_NAME, PF_ORG_TYPE, PF_TRADING_NAME,
	PF_EMAIL, PF_PHONE_PRIMARY, PF_PHONE_SECONDARY, PF_DATE_OF_BIRTH,
	PF_REG_NUMBER, PF_WEBSITE, PF__MAX
};

enum afield {
	AF_TYPE, AF_LINE1, AF_LINE2, AF_LINE3, AF_CITY, AF_REGION,
	AF_POSTAL, AF_COUNTRY, AF__MAX
};

struct address {
	struct uuid	 id;
	bool		 has_id;
	bool		 is_new;	/* id assigned by us, just now */
	char		*f[AF__MAX];
	bool		 is_primary;
};

struct extid {
	char		*system;
	char		*identifier;
	char		*last_synced;	/* RFC 3339 or NULL */
};

struct party {
	struct uuid	 id;
	enum party_type	 type;
	char		*v[PF__MAX];		/* NULL = absent */
	char		*display_name;
	long long	 version;
	char		 created_at[32];
	char		 updated_at[32];
	struct address	*addr;
	size_t		 naddr;
	struct extid	*ext;
	size_t		 next;
	bool		 addresses_given;	/* the body had "addresses" */
};

/* List filters; NULL members are not applied. */
struct party_filter {
	const enum party_type *type;
	const char	*email;
	const char	*name_prefix;
	const char	*updated_since;	/* "YYYY-MM-DD HH:MM:SS.ffffff" UTC */
	const char	*ext_system;
	const char	*ext_identifier;
	struct cursor	 after;		/* sort order and position */
	int		 limit;
};

const char	*party_type_name(enum party_type);	/* "person" ... */
int		 party_type_parse(const char *, enum party_type *);
const char	*pfield_name(enum pfield);
const char	*afield_name(enum afield);
bool		 pfield_applies(enum pfield, enum party_type);

void		 party_init(struct party *, enum party_type);
void		 party_clear(struct party *);
void		 address_clear(struct address *);
/* Deep copy of src into dst (dst uninitialised). */
void		 address_copy(struct address *dst, const struct address *src);
void		 party_add_address(struct party *, const struct address *);
void		 party_remove_address(struct party *, size_t);
void		 party_set_extid(struct party *, const char *system,
		    const char *identifier);
int		 party_remove_extid(struct party *, const char *system);
/* The identifier p has in system, or NULL. */
const char	*party_extid(const struct party *, const char *system);
/* Whether two addresses hold the same content (ids and is_primary aside). */
bool		 address_same_content(const struct address *,
		    const struct address *);
/* The address of p with this id, or NULL. */
const struct address *party_find_address(const struct party *,
		    const struct uuid *);
/* Recompute display_name from the fields. */
void		 party_derive(struct party *);

/* party_json.c */

/*
 * Validate a request body (PUT/POST/merged PATCH) of a party of type t
 * into p (initialised here).  Returns 0, or -1 with pb filled: RLX_BADREQ
 * for unknown or read-only fields, RLX_EINVAL for invalid values.  Read
 * from p only what the body sets: addresses, not identifiers or version.
 */
int		 party_from_json(json_object *, enum party_type t,
		    struct party *p, struct problem *pb);
/* Validate one address body into a (initialised here); ptr prefixes
 * JSON Pointers in errors ("" or "/addresses/3"). */
int		 address_from_json(json_object *, const char *ptr,
		    struct address *a, struct problem *pb);
/* The representation GET returns and events carry; a new reference. */
json_object	*party_to_json(const struct party *);
json_object	*address_to_json(const struct address *);
json_object	*extid_to_json(const struct extid *);
/* The writable part only, the base of a merge patch; a new reference. */
json_object	*party_input_json(const struct party *);

/*
 * Give ids to new addresses of next: an address equal in content to one
 * of prev's reuses that one's id; the others get new ids.
 */
void		 party_resolve_addresses(struct party *next,
		    const struct party *prev);
/* Whether next would change nothing that prev holds. */
bool		 party_same(const struct party *prev, const struct party *next);

/* party_db.c */

/* Load a party with its addresses and identifiers; *found false if none. */
enum db_rc	 db_party_load(struct db *, const struct uuid *, bool lock,
		    struct party *, bool *found);
/* A page of parties (with addresses and identifiers) matching f. */
enum db_rc	 db_party_list(struct db *, const struct party_filter *f,
		    struct party **out, size_t *n);
/* Store a new party; parties sharing an address it changed go to others. */
enum db_rc	 db_party_insert(struct db *, const struct party *,
		    struct uuid **others, size_t *nothers);
/*
 * Store next over prev (same id; addresses resolved).  Bumps the version.
 * Parties sharing an address whose content changed are returned in
 * others (new array, *nothers) so the caller can emit their events.
 */
enum db_rc	 db_party_update(struct db *, const struct party *prev,
		    const struct party *next, struct uuid **others,
		    size_t *nothers);
/* Bump version and updated_at only (a change to linked data). */
enum db_rc	 db_party_bump(struct db *, const struct uuid *);
enum db_rc	 db_party_delete(struct db *, const struct party *);
/* Load an address row (is_primary false) into a; *found false if none. */
enum db_rc	 db_address_get(struct db *, const struct uuid *,
		    struct address *a, bool *found);
/* Whether an address row with this id exists. */
enum db_rc	 db_address_exists(struct db *, const struct uuid *,
		    bool *found);
/* Which party holds (system, identifier); *found false if none. */
enum db_rc	 db_extid_owner(struct db *, const char *system,
		    const char *identifier, struct uuid *owner, bool *found);
void		 party_list_free(struct party *, size_t);

#endif
