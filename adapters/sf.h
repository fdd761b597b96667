/*
 * Rolodex adapters - Salesforce backend (rolodex-adapter-salesforce).
 *
 * REST API, every URL and the API version from [salesforce]:
 *  - OAuth 2.0 client credentials flow, or the JWT bearer flow with an
 *    RS256 assertion signed here with OpenSSL; the token is cached and a
 *    401 (INVALID_SESSION_ID) fetches a new one and retries once;
 *  - persons are Contacts, organisations Accounts, upserted by the
 *    external-ID field ([salesforce] external_id_field): one record with
 *    PATCH /sobjects/<type>/<field>/<id>, more with sObject Collections
 *    (PATCH /composite/sobjects/<type>/<field>, at most 200 records a
 *    call, allOrNone false, each record's result handled by itself);
 *  - a Contact's Account is set through the Account's external id
 *    ("Account": {"<field>": "<org id>"}) and cleared with AccountId
 *    null, updating only (updateOnly=true: a missing Contact is 404);
 *  - deletes by external id; an Account's Contacts are unlinked first
 *    (Salesforce would delete them with it);
 *  - REQUEST_LIMIT_EXCEEDED, 429 and 5xx make the consumer back off
 *    (Retry-After honoured), other errors reject the record.
 * The parsing and classification helpers are pure, for the unit tests.
 */
#ifndef ROLODEX_SF_H
#define ROLODEX_SF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "adapter.h"
#include "http_client.h"
#include "map.h"

#define SF_COLLECTION_MAX	200

struct sf {
	const struct conf	*conf;
	struct http_client	 http;
	struct map		 contact, account;
	char			*token;		/* access token, or NULL */
	char			*instance;	/* REST base, no trailing / */
	EVP_PKEY		*key;		/* jwt_bearer signing key */
	uint64_t		 tokens;	/* tokens fetched */
};

/*
 * Check the [salesforce] configuration and set up s.  Returns 0, or -1
 * with a reason in err[errsz].  Release with sf_clear().
 */
int		 sf_init(struct sf *, const struct conf *, char *err,
		    size_t errsz);
void		 sf_clear(struct sf *);

/* struct backend run(): ctx is a struct sf. */
void		 sf_run(void *ctx, struct op *ops, size_t n);

/* One record's result of an sObject Collections call. */
struct sf_result {
	bool	 success;
	bool	 created;
	char	 id[64];
	char	 code[64];	/* statusCode of the first error */
	char	 msg[256];
};

/*
 * Parse an sObject Collections response (a JSON array of n results, in
 * request order) into res[0..n).  Returns 0, or -1 when the body is not
 * such an array of n objects.
 */
int		 sf_parse_results(const char *body, size_t len,
		    struct sf_result *res, size_t n);

/*
 * The first error of a REST error body ([{"message","errorCode"}]) or
 * an OAuth one ({"error","error_description"}) into code and msg (empty
 * when the body says nothing).  Returns 0, or -1 when it is neither.
 */
int		 sf_parse_error(const char *body, size_t len, char *code,
		    size_t codesz, char *msg, size_t msgsz);

/*
 * What an HTTP status and Salesforce error code mean for a record:
 * OPR_OK, OPR_TRANSIENT (with *throttled when the whole org is limited
 * or failing) or OPR_REJECTED.
 */
enum op_res	 sf_classify(long status, const char *code, bool *throttled);

/*
 * The body of an sObject Collections upsert of ops (OP_UPSERT) of type
 * "Contact" or "Account" mapped with m.  Returns a new string (free()).
 */
char		*sf_collection_body(const struct map *, const char *type,
		    const char *extfield, const struct op *ops, size_t n);

/*
 * A JWT bearer assertion (RFC 7523): header {"alg":"RS256"}, claims iss,
 * sub, aud and exp = now + 180, signed with key.  Returns a new string
 * (free()), or NULL (logged) when signing fails.
 */
char		*sf_jwt_assertion(EVP_PKEY *, const char *iss, const char *sub,
		    const char *aud, int64_t now);

/* An RSA private key from PEM; NULL with err set. */
EVP_PKEY	*sf_load_key(const char *pem, char *err, size_t errsz);

#endif
