/*
 * Rolodex - problem details (see problem.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "problem.h"

static const struct {
	int		 status;
	const char	*slug;
	const char	*title;
} rlx_errs[RLX__MAX] = {
	[RLX_OK] = { 200, "ok", "OK" },
	[RLX_BADREQ] = { 400, "bad-request", "Bad request" },
	[RLX_EINVAL] = { 422, "validation", "Validation failed" },
	[RLX_UNAUTH] = { 401, "unauthorized", "Authentication required" },
	[RLX_FORBIDDEN] = { 403, "forbidden", "Insufficient scope" },
	[RLX_NOTFOUND] = { 404, "not-found", "Not found" },
	[RLX_BADMETHOD] = { 405, "method-not-allowed", "Method not allowed" },
	[RLX_NOTACCEPT] = { 406, "not-acceptable", "Not acceptable" },
	[RLX_CONFLICT] = { 409, "conflict", "Conflict" },
	[RLX_PRECOND] = { 412, "precondition-failed",
	    "Precondition failed" },
	[RLX_TOOBIG] = { 413, "payload-too-large", "Payload too large" },
	[RLX_MEDIATYPE] = { 415, "unsupported-media-type",
	    "Unsupported media type" },
	[RLX_PRECONDREQ] = { 428, "precondition-required",
	    "Precondition required" },
	[RLX_TOOMANY] = { 429, "too-many-requests", "Too many requests" },
	[RLX_INTERNAL] = { 500, "internal", "Internal error" },
	[RLX_UNAVAIL] = { 503, "unavailable", "Service unavailable" },
};

int
rlx_status(enum rlx_err e)
{
	if (e >= RLX__MAX)
		abort();
	return rlx_errs[e].status;
}

const char *
rlx_strerror(enum rlx_err e)
{
	if (e >= RLX__MAX)
		abort();
	return rlx_errs[e].title;
}

const char *
rlx_type(enum rlx_err e)
{
	static char	 buf[RLX__MAX][64];

	if (e >= RLX__MAX)
		abort();
	if (buf[e][0] == '\0')
		snprintf(buf[e], sizeof(buf[e]), "urn:rolodex:problem:%s",
		    rlx_errs[e].slug);
	return buf[e];
}

const char *
rlx_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Unknown";
	}
}

void
problem_init(struct problem *p)
{
	memset(p, 0, sizeof(*p));
}

void
problem_clear(struct problem *p)
{
	json_object_put(p->errors);
	problem_init(p);
}

void
problem_set(struct problem *p, enum rlx_err e, const char *fmt, ...)
{
	va_list	 ap;

	p->err = e;
	if (p->detail[0] != '\0' || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(p->detail, sizeof(p->detail), fmt, ap);
	va_end(ap);
}

void
problem_field(struct problem *p, const char *ptr, const char *fmt, ...)
{
	json_object	*e;
	va_list		 ap;
	char		 buf[256];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (p->errors == NULL)
		p->errors = json_object_new_array();
	/* A hostile body could name thousands of bad fields. */
	if (json_object_array_length(p->errors) < 100) {
		e = json_object_new_object();
		jsonx_add_str(e, "pointer", ptr);
		jsonx_add_str(e, "detail", buf);
		json_object_array_add(p->errors, e);
	}
	if (p->err == RLX_OK)
		p->err = RLX_EINVAL;
	if (p->detail[0] == '\0')
		snprintf(p->detail, sizeof(p->detail),
		    "The request body has invalid fields.");
}

json_object *
problem_json(const struct problem *p)
{
	json_object	*o = json_object_new_object();
	enum rlx_err	 e = p->err == RLX_OK ? RLX_INTERNAL : p->err;

	jsonx_add_str(o, "type", rlx_type(e));
	jsonx_add_str(o, "title", rlx_strerror(e));
	jsonx_add_int(o, "status", rlx_status(e));
	jsonx_add_str(o, "detail", p->detail[0] != '\0' ? p->detail :
	    rlx_strerror(e));
	if (p->errors != NULL)
		json_object_object_add(o, "errors",
		    json_object_get(p->errors));
	return o;
}
