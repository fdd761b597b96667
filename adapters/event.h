/*
 * Rolodex adapters - events as they arrive on the stream.
 *
 * event_parse() turns one stream entry (field/value pairs, as the relay
 * writes them: see docs/events.md) into a struct event, checking
 * everything the adapters rely on: the event id and subject are UUIDs
 * (kept in canonical lower case, so they compare as strings), the type
 * is one of the nine and agrees with aggregate_type, the version is a
 * positive integer, data is a JSON object about the subject.  An entry
 * that fails is malformed for good: the consumer core sends it to the
 * dead-letter stream at once.
 *
 * The original field/value pairs are kept, so a dead letter carries the
 * entry exactly as it was read.
 *
 * Also here, because it is pure: which organisation a person's Contact
 * (Salesforce) or contact (Dataverse) points to, from the person's
 * employee-of relationships (link_choose()).
 */
#ifndef ROLODEX_EVENT_H
#define ROLODEX_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "uuid.h"

enum agg_type { AGG_PERSON, AGG_ORG, AGG_REL };
enum ev_action { EVA_UPSERT, EVA_DELETE };

#define DATE_LEN	10	/* YYYY-MM-DD */

struct event {
	char		 entry[48];		/* stream entry id */
	size_t		 stream;		/* index of its stream */
	int64_t		 deliveries;		/* 0: not known yet */
	char		 id[UUID_STRLEN + 1];
	char		 type[32];
	char		 subject[UUID_STRLEN + 1];
	enum agg_type	 agg;
	enum ev_action	 action;		/* erased persons: delete */
	int64_t		 version;
	json_object	*data;			/* owned */
	/* Relationships (from data; empty when absent). */
	char		 rel_type[48];
	char		 from[UUID_STRLEN + 1];
	char		 to[UUID_STRLEN + 1];
	char		 start[DATE_LEN + 1];
	char		 end[DATE_LEN + 1];
	/* The entry as read: nkv field/value strings (owned). */
	char		**kv;
	size_t		 nkv;
};

/*
 * Parse the n strings of kv (field, value, field, value...) into ev,
 * which is overwritten.  Returns 0, or -1 with a reason in err[errsz];
 * either way ev keeps a copy of kv and must be released with
 * event_clear().
 */
int	 event_parse(struct event *, char *const *kv, size_t n, char *err,
	    size_t errsz);
void	 event_clear(struct event *);

/* Name of an aggregate type as on the stream ("person"...). */
const char *agg_name(enum agg_type);

enum org_state { ORG_UNKNOWN, ORG_LIVE, ORG_GONE };

/* One employee-of relationship of a person, as the adapter keeps it. */
struct employment {
	char		 rid[UUID_STRLEN + 1];	/* relationship id */
	char		 org[UUID_STRLEN + 1];
	char		 start[DATE_LEN + 1];	/* "" when open */
	char		 end[DATE_LEN + 1];
	enum org_state	 state;			/* of org, in the target */
};

/*
 * The employment that decides the person's organisation on date today
 * (YYYY-MM-DD): among those not ended (no end date, or one not before
 * today) whose organisation is not gone, the one with the latest start
 * date (an open start counts as earliest), ties broken by the larger
 * relationship id.  Returns its index, or -1 when there is none.  When
 * that best one's organisation is not replicated yet, returns -1 and
 * sets *wait: the link must wait for it.
 */
int	 link_choose(const struct employment *, size_t n, const char *today,
	    bool *wait);

/* "org start end" with "-" for an empty date, into dst[dsz]. */
void	 employment_fmt(const struct employment *, char *dst, size_t dsz);
/* Parse employment_fmt() text for relationship rid; 0 or -1. */
int	 employment_parse(struct employment *, const char *rid,
	    const char *text);

#endif
