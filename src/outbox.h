/*
 * Rolodex - the transactional outbox.
 *
 * Every change to an aggregate writes exactly one outbox row in the same
 * transaction as the change (guarantee 1 of the contract).  The row holds
 * what the relay needs to build the CloudEvents entry: event id and type,
 * the aggregate's type, id and version after the change, the resource as
 * GET returns it (the event's data) and the W3C traceparent of the
 * request.  The relay adds source, specversion and time.
 */
#ifndef ROLODEX_OUTBOX_H
#define ROLODEX_OUTBOX_H

#include <json-c/json.h>

#include "db.h"
#include "uuid.h"

enum event_kind { EV_CREATED, EV_UPDATED, EV_DELETED };

/*
 * Append the event of a change of aggregate agg_type ("person",
 * "organisation", "relationship") inside the caller's transaction.
 * data is borrowed.  traceparent may be NULL.
 */
enum db_rc	outbox_add(struct db *, enum event_kind, const char *agg_type,
		    const struct uuid *agg_id, long long version,
		    json_object *data, const char *traceparent);

/* The event type name, e.g. "PersonCreated"; a static string. */
const char	*outbox_event_type(enum event_kind, const char *agg_type);

#endif
