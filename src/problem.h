/*
 * Rolodex - errors that reach a client.
 *
 * Every failure a handler reports is an enum rlx_err; one table maps it
 * to the HTTP status, the problem type URN and its title, so no handler
 * writes a status by hand.  Bodies are RFC 9457 problem details; for
 * validation they carry errors[] of {pointer, detail}.
 */
#ifndef ROLODEX_PROBLEM_H
#define ROLODEX_PROBLEM_H

#include <json-c/json.h>

enum rlx_err {
	RLX_OK = 0,
	RLX_BADREQ,		/* 400 malformed request or JSON */
	RLX_EINVAL,		/* 422 failed validation */
	RLX_UNAUTH,		/* 401 */
	RLX_FORBIDDEN,		/* 403 */
	RLX_NOTFOUND,		/* 404 */
	RLX_BADMETHOD,		/* 405 */
	RLX_NOTACCEPT,		/* 406 */
	RLX_CONFLICT,		/* 409 */
	RLX_PRECOND,		/* 412 */
	RLX_TOOBIG,		/* 413 */
	RLX_MEDIATYPE,		/* 415 */
	RLX_PRECONDREQ,		/* 428 */
	RLX_TOOMANY,		/* 429 */
	RLX_INTERNAL,		/* 500 */
	RLX_UNAVAIL,		/* 503 */
	RLX__MAX
};

int		 rlx_status(enum rlx_err);
const char	*rlx_strerror(enum rlx_err);	/* the title */
const char	*rlx_type(enum rlx_err);	/* urn:rolodex:problem:... */
const char	*rlx_reason(int status);	/* HTTP reason phrase */

/*
 * A problem being built.  errors is NULL until the first field error;
 * detail is free text safe to show a client (never SQL or internals).
 */
struct problem {
	enum rlx_err	 err;
	char		 detail[512];
	json_object	*errors;
};

void		 problem_init(struct problem *);
void		 problem_clear(struct problem *);
/* Set err and a formatted detail (keeps the first detail given). */
void		 problem_set(struct problem *, enum rlx_err, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* Add a field error at JSON Pointer ptr; sets err to RLX_EINVAL. */
void		 problem_field(struct problem *, const char *ptr,
		    const char *, ...) __attribute__((format(printf, 3, 4)));
/* The problem document; a new reference. */
json_object	*problem_json(const struct problem *);

#endif
