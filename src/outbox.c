/*
 * Rolodex - the transactional outbox (see outbox.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "outbox.h"

const char *
outbox_event_type(enum event_kind k, const char *agg_type)
{
	static const char *const names[][3] = {
		{ "PersonCreated", "PersonUpdated", "PersonDeleted" },
		{ "OrganisationCreated", "OrganisationUpdated",
		    "OrganisationDeleted" },
		{ "RelationshipCreated", "RelationshipUpdated",
		    "RelationshipDeleted" },
	};
	size_t	 t;

	if (strcmp(agg_type, "person") == 0)
		t = 0;
	else if (strcmp(agg_type, "organisation") == 0)
		t = 1;
	else if (strcmp(agg_type, "relationship") == 0)
		t = 2;
	else
		abort();
	if ((unsigned)k > EV_DELETED)
		abort();
	return names[t][k];
}

enum db_rc
outbox_add(struct db *db, enum event_kind k, const char *agg_type,
    const struct uuid *agg_id, long long version, json_object *data,
    const char *traceparent)
{
	struct uuid	 ev;
	const char	*payload = jsonx_str(data);

	uuid_v7(&ev);
	struct db_arg	 args[] = {
		DB_BIN(ev.b, 16), db_str(outbox_event_type(k, agg_type)),
		db_str(agg_type), DB_BIN(agg_id->b, 16), DB_INT(version),
		db_str(payload), db_str(traceparent),
	};
	return db_exec(db, STMT_OUTBOX_INSERT, args, 7, NULL, NULL);
}
