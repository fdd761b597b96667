/*
 * Rolodex - an HTTP client for the adapters (libcurl).
 *
 * One struct http_client per adapter process holds one reused easy
 * handle (connections and TLS sessions are kept between calls).  Every
 * call is bounded: a total timeout ([adapter] http_timeout_ms), a cap on
 * the response body ([adapter] max_response), TLS verification always on,
 * redirects never followed, and only https:// URLs unless [adapter]
 * allow_http is set (the sandboxes).  The handle has an error buffer and
 * CURLOPT_NOSIGNAL, so a timeout never raises SIGALRM in the daemon.
 *
 * Nothing here logs a header or a body: they carry tokens and personal
 * data.  Failures are logged with the method, the host-less path is not
 * logged either; callers log what they know about the record.
 */
#ifndef ROLODEX_HTTP_CLIENT_H
#define ROLODEX_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;

#define HTTP_MAX_HEADERS	32

struct http_header {
	char	*name;		/* lower-cased */
	char	*value;		/* trimmed */
};

/* One response: status, selected headers, the body (NUL-terminated). */
struct http_resp {
	long			 status;
	char			*body;
	size_t			 len;
	struct http_header	 hdr[HTTP_MAX_HEADERS];
	size_t			 nhdr;
	bool			 too_large;	/* internal: cap reached */
};

struct http_client {
	void		*curl;		/* CURL *, opaque here */
	char		 errbuf[256];	/* CURLOPT_ERRORBUFFER */
	int64_t		 timeout_ms;
	size_t		 max_response;
	bool		 allow_http;
	/* Called before every request (lease renewal); may be NULL. */
	void		(*pre_hook)(void *);
	void		*pre_arg;
	uint64_t	 requests;	/* statistics */
	uint64_t	 failures;
};

/*
 * Set up c from the [adapter] keys of conf.  Returns 0, or -1 (logged)
 * when libcurl cannot make a handle.  curl_global_init() must have run.
 * Release with http_clear().
 */
int		 http_init(struct http_client *, const struct conf *);
void		 http_clear(struct http_client *);

/*
 * Send one request.  method is "GET", "POST", "PATCH", "DELETE"...;
 * headers is a NULL-terminated list of "Name: value" lines (borrowed);
 * body may be NULL.  On return *out holds the response (release with
 * http_resp_clear()).  Returns 0 when a response arrived (any status),
 * -1 (logged, reason in c->errbuf) on a refused URL, a transport error,
 * a timeout or a body over the cap.
 */
int		 http_request(struct http_client *, const char *method,
		    const char *url, const char *const *headers,
		    const char *body, size_t bodylen, struct http_resp *out);

void		 http_resp_clear(struct http_resp *);

/* Value of response header name (case-insensitive), or NULL. */
const char	*http_resp_header(const struct http_resp *, const char *name);

/* Whether url may be used under the allow_http setting. */
bool		 http_url_allowed(const char *url, bool allow_http);

/*
 * Percent-encode s for a URL query or form value (RFC 3986 unreserved
 * characters kept).  Returns a new string (free()).
 */
char		*http_escape(const char *s);

#endif
