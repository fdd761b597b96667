/*
 * Rolodex adapters - Dynamics 365 / Dataverse backend
 * (rolodex-adapter-d365).
 *
 * Web API (OData 4.0), with the Dataverse URL, API version, entity sets,
 * alternate-key column and field mapping from [d365]:
 *  - Microsoft identity platform client credentials token
 *    (/{tenant}/oauth2/v2.0/token, scope https://<org>/.default), cached
 *    until shortly before expires_in; a 401 fetches a new one and
 *    retries once;
 *  - upsert by alternate key: PATCH <set>(<key>='<party id>');
 *  - a contact's account through the account's alternate key
 *    (parentcustomerid_account@odata.bind), cleared with null, update
 *    only (If-Match: *, so a missing contact is 404, never created);
 *  - delete by alternate key; an account's contacts are disassociated
 *    first (the parental relationship would cascade the delete);
 *  - several changes go in one $batch request ([d365] use_batch), each in
 *    its own change set so one rejected record does not roll back the
 *    others, with Prefer: odata.continue-on-error;
 *  - OData error bodies are parsed for the reason; 429 and 5xx make the
 *    consumer back off, honouring Retry-After.
 * The $batch builder and parser and the error helpers are pure, for the
 * unit tests.
 */
#ifndef ROLODEX_D365_H
#define ROLODEX_D365_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter.h"
#include "http_client.h"
#include "map.h"

#define D365_BATCH_MAX		100	/* change sets per $batch request */

struct d365 {
	const struct conf	*conf;
	struct http_client	 http;
	struct map		 contact, account;
	char			*base;		/* <url>/api/data/<version> */
	char			*scope;
	char			*idcol[2];	/* key: contact, account */
	char			*token;		/* or NULL */
	int64_t			 token_until;	/* monotonic ms */
	uint64_t		 tokens;
};

/*
 * Check the [d365] configuration and set up d.  Returns 0, or -1 with a
 * reason in err[errsz].  Release with d365_clear().
 */
int		 d365_init(struct d365 *, const struct conf *, char *err,
		    size_t errsz);
void		 d365_clear(struct d365 *);

/* struct backend run(): ctx is a struct d365. */
void		 d365_run(void *ctx, struct op *ops, size_t n);

/* One request of a $batch (each goes in a change set of its own). */
struct d365_req {
	const char	*method;
	char		*url;		/* absolute */
	char		*body;		/* JSON, or NULL */
	bool		 if_match;	/* If-Match: * (update only) */
	bool		 represent;	/* Prefer: return=representation */
};

/* One response out of a $batch response. */
struct d365_part {
	size_t		 group;		/* index of its top-level part */
	long		 status;
	char		 entity_id[256];	/* OData-EntityId */
	char		 retry_after[64];
	char		*body;		/* owned, NUL-terminated */
	size_t		 len;
};

/* The multipart/mixed body of a $batch of n requests (free()). */
char		*d365_batch_body(const char *boundary,
		    const struct d365_req *, size_t n);

/*
 * Parse a $batch response whose Content-Type is ctype.  Every HTTP
 * response found, at the top level or inside a change set, becomes a
 * part, numbered by its top-level part.  Returns 0 with *parts (free
 * with d365_parts_free()) and *n, or -1 when the body is not multipart
 * with that boundary.
 */
int		 d365_batch_parse(const char *ctype, const char *body,
		    size_t len, struct d365_part **parts, size_t *n);
void		 d365_parts_free(struct d365_part *, size_t);

/*
 * The code and message of an OData error body {"error": {"code",
 * "message"}}.  Returns 0, or -1 when the body is not one (code and msg
 * are then empty).
 */
int		 d365_parse_error(const char *body, size_t len, char *code,
		    size_t codesz, char *msg, size_t msgsz);

/* OPR_OK, OPR_TRANSIENT (*throttled for 401, 429, 5xx) or OPR_REJECTED. */
enum op_res	 d365_classify(long status, bool *throttled);

/*
 * The GUID in an OData-EntityId value (".../contacts(<guid>)") into
 * dst[37], lower case.  Returns 0, or -1 when it holds no GUID key.
 */
int		 d365_entity_guid(const char *entity_id, char *dst);

#endif
