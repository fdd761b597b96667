/*
 * Rolodex adapters - field mapping from a party to an external record.
 *
 * A mapping is configuration ([salesforce] contact_fields, ...): a comma
 * separated list of "Target=source" pairs.  A source is a field of the
 * party as GET returns it (first_name, email, website, ...) or a part of
 * the party's primary address: address.street (the address lines joined
 * by newlines), address.line1..3, address.city, address.region,
 * address.postal_code, address.country, address.type.  Sources are
 * checked against the data model when the mapping is parsed, so a typo
 * stops the adapter at start-up instead of silently sending nulls.
 *
 * Applying a mapping yields every target, with JSON null for an absent
 * value: an external record is a full replica, so a value cleared in
 * Rolodex is cleared there too.  The external key (external-ID field,
 * alternate key) is not part of the mapping; the backends add it.
 */
#ifndef ROLODEX_MAP_H
#define ROLODEX_MAP_H

#include <stddef.h>

#include <json-c/json.h>

enum map_src {
	MS_FIELD,		/* a top-level party field */
	MS_ADDR_STREET,		/* lines 1-3 joined by "\n" */
	MS_ADDR_FIELD		/* a field of the primary address */
};

struct map_entry {
	char		*target;
	enum map_src	 src;
	char		*field;	/* MS_FIELD, MS_ADDR_FIELD: the JSON name */
};

struct map {
	struct map_entry	*e;
	size_t			 n;
};

/*
 * Parse spec into m.  Returns 0, or -1 with a reason in err[errsz] (a
 * malformed pair, an unknown source, a duplicate target, an empty
 * list).  On success release with map_clear().
 */
int		 map_parse(struct map *, const char *spec, char *err,
		    size_t errsz);
void		 map_clear(struct map *);

/*
 * The external record's fields for party (borrowed): a new object (put
 * it) holding every target of m.  Strings are copied as they are; a
 * missing or non-string value becomes null.
 */
json_object	*map_apply(const struct map *, json_object *party);

/* The primary address of party (borrowed from it), or NULL. */
json_object	*map_primary_address(json_object *party);

#endif
