/*
 * Rolodex - relationships between parties.
 *
 * A relationship joins a "from" party to a "to" party with a type; each
 * type declares which party types it may join (employee-of joins a
 * person to an organisation, subsidiary-of an organisation to an
 * organisation, ...).  Invariants: from and to differ; end_date is not
 * before start_date; both parties exist while the relationship does
 * (deleting a party deletes its relationships in the same transaction).
 */
#ifndef ROLODEX_RELSHIP_H
#define ROLODEX_RELSHIP_H

#include <stdbool.h>

#include <json-c/json.h>

#include "db.h"
#include "party.h"
#include "problem.h"
#include "uuid.h"

struct relship {
	struct uuid	 id;
	char		*type;
	struct uuid	 from, to;
	char		*start_date;	/* YYYY-MM-DD or NULL */
	char		*end_date;
	char		*notes;
	long long	 version;
	char		 created_at[32];
	char		 updated_at[32];
};

enum rel_direction { REL_BOTH, REL_FROM, REL_TO };

struct relship_filter {
	const struct uuid	*party;
	const char		*type;		/* NULL: any */
	enum rel_direction	 direction;
	bool			 current;	/* only those in force today */
	struct uuid		 after;		/* cursor position */
	int			 limit;
};

void		 relship_clear(struct relship *);
/* Whether t is a known type; then from and to get its party types. */
bool		 relship_type_rule(const char *t, enum party_type *from,
		    enum party_type *to, bool *any_from, bool *any_to);

/*
 * Validate a body (POST, PUT, merged PATCH) into r (initialised here).
 * Checks shape and values only; the party-type rules need the database
 * (relship_check_parties).  0, or -1 with pb.
 */
int		 relship_from_json(json_object *, struct relship *,
		    struct problem *);
json_object	*relship_to_json(const struct relship *);
/* The writable fields only, the base of a merge patch. */
json_object	*relship_input_json(const struct relship *);
bool		 relship_same(const struct relship *, const struct relship *);

/* Both parties exist (share-locked) and their types fit the type. */
enum db_rc	 relship_check_parties(struct db *, const struct relship *,
		    struct problem *);

enum db_rc	 db_relship_load(struct db *, const struct uuid *, bool lock,
		    struct relship *, bool *found);
enum db_rc	 db_relship_insert(struct db *, const struct relship *);
/* Store r over the row with r->id, bumping its version. */
enum db_rc	 db_relship_update(struct db *, const struct relship *);
enum db_rc	 db_relship_delete(struct db *, const struct uuid *);
enum db_rc	 db_relship_list(struct db *, const struct relship_filter *,
		    struct relship **out, size_t *n);
/* Ids of every relationship of a party, locked; new array. */
enum db_rc	 db_relship_ids_of_party(struct db *, const struct uuid *,
		    struct uuid **ids, size_t *n);
void		 relship_list_free(struct relship *, size_t);

#endif
