/*
 * Rolodex - an HTTP client for the adapters (see http_client.h).
 *
 * The easy handle is reset before each request (curl_easy_reset keeps the
 * connection cache and TLS sessions) and every option is set again, so
 * no option of one call leaks into the next.  The body is collected up
 * to max_response bytes; one byte more aborts the transfer.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "conf.h"
#include "http_client.h"
#include "log.h"
#include "xalloc.h"

int
http_init(struct http_client *c, const struct conf *conf)
{
	memset(c, 0, sizeof(*c));
	c->timeout_ms = conf->adapter_http_timeout_ms;
	c->max_response = (size_t)conf->adapter_max_response;
	c->allow_http = conf->adapter_allow_http;
	if ((c->curl = curl_easy_init()) == NULL) {
		log_warnx("%s: curl_easy_init failed", __func__);
		return -1;
	}
	return 0;
}

void
http_clear(struct http_client *c)
{
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	c->curl = NULL;
}

bool
http_url_allowed(const char *url, bool allow_http)
{
	if (strncasecmp(url, "https://", 8) == 0)
		return url[8] != '\0';
	return allow_http && strncasecmp(url, "http://", 7) == 0 &&
	    url[7] != '\0';
}

void
http_resp_clear(struct http_resp *r)
{
	size_t	 i;

	for (i = 0; i < r->nhdr; i++) {
		free(r->hdr[i].name);
		free(r->hdr[i].value);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *
http_resp_header(const struct http_resp *r, const char *name)
{
	size_t	 i;

	for (i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hdr[i].name, name) == 0)
			return r->hdr[i].value;
	return NULL;
}

/* The body sink: a resp plus the cap, kept apart from struct http_resp. */
struct sink {
	struct http_resp	*r;
	size_t			 cap;
	size_t			 alloc;
};

static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink	*s = arg;
	size_t		 len = size * n;

	if (s->r->len + len > s->cap) {
		s->r->too_large = true;
		return 0;	/* aborts the transfer */
	}
	if (s->r->len + len + 1 > s->alloc) {
		s->alloc = (s->r->len + len + 1) * 2;
		if (s->alloc > s->cap + 1)
			s->alloc = s->cap + 1;
		s->r->body = xrealloc(s->r->body, s->alloc);
	}
	memcpy(s->r->body + s->r->len, p, len);
	s->r->len += len;
	s->r->body[s->r->len] = '\0';
	return len;
}

static size_t
sink_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink		*s = arg;
	struct http_resp	*r = s->r;
	size_t			 len = size * n, i, k, v, e;

	/* A new status line (after 100 Continue): forget older headers. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		for (i = 0; i < r->nhdr; i++) {
			free(r->hdr[i].name);
			free(r->hdr[i].value);
		}
		r->nhdr = 0;
		return len;
	}
	for (k = 0; k < len && p[k] != ':'; k++)
		continue;
	if (k == 0 || k == len || r->nhdr == HTTP_MAX_HEADERS)
		return len;
	for (v = k + 1; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
		continue;
	for (e = len; e > v && isspace((unsigned char)p[e - 1]); e--)
		continue;
	r->hdr[r->nhdr].name = xstrndup(p, k);
	for (i = 0; i < k; i++)
		r->hdr[r->nhdr].name[i] =
		    (char)tolower((unsigned char)r->hdr[r->nhdr].name[i]);
	r->hdr[r->nhdr].value = xstrndup(p + v, e - v);
	r->nhdr++;
	return len;
}

/* Set the options of one request on the (reset) handle. */
static struct curl_slist *
http_setup(struct http_client *c, const char *method, const char *url,
    const char *const *headers, const char *body, size_t bodylen,
    struct sink *s)
{
	CURL			*h = c->curl;
	struct curl_slist	*hl = NULL;
	size_t			 i;

	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)(c->timeout_ms < 10000 ? c->timeout_ms : 10000));
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
	    c->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)s->cap);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rolodex-adapter/" VERSION);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, sink_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	if (strcmp(method, "GET") == 0)
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)bodylen);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	}
	/* No "Expect: 100-continue" round trip before large bodies. */
	hl = curl_slist_append(hl, "Expect:");
	for (i = 0; headers != NULL && headers[i] != NULL; i++)
		hl = curl_slist_append(hl, headers[i]);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	return hl;
}

int
http_request(struct http_client *c, const char *method, const char *url,
    const char *const *headers, const char *body, size_t bodylen,
    struct http_resp *out)
{
	struct curl_slist	*hl;
	struct sink		 s;
	CURLcode		 cc;
	int			 rc = -1;

	memset(out, 0, sizeof(*out));
	c->errbuf[0] = '\0';
	if (!http_url_allowed(url, c->allow_http)) {
		snprintf(c->errbuf, sizeof(c->errbuf), "URL scheme refused "
		    "(https only unless [adapter] allow_http)");
		log_warnx("%s: %s %s", __func__, method, c->errbuf);
		return -1;
	}
	if (c->pre_hook != NULL)
		c->pre_hook(c->pre_arg);
	memset(&s, 0, sizeof(s));
	s.r = out;
	s.cap = c->max_response;
	curl_easy_reset(c->curl);
	hl = http_setup(c, method, url, headers, body, bodylen, &s);
	c->requests++;
	cc = curl_easy_perform(c->curl);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
		    &out->status);
		if (out->body == NULL)
			out->body = xstrdup("");
		rc = 0;
		goto out;
	}
	c->failures++;
	if (out->too_large || cc == CURLE_FILESIZE_EXCEEDED)
		snprintf(c->errbuf, sizeof(c->errbuf),
		    "response larger than [adapter] max_response");
	else if (c->errbuf[0] == '\0')
		snprintf(c->errbuf, sizeof(c->errbuf), "%s",
		    curl_easy_strerror(cc));
	log_warnx("%s: %s: %s", __func__, method, c->errbuf);
	http_resp_clear(out);
out:
	curl_slist_free_all(hl);
	return rc;
}

char *
http_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out, *o;
	unsigned char		 ch;

	o = out = xmalloc(strlen(s) * 3 + 1);
	for (; *s != '\0'; s++) {
		ch = (unsigned char)*s;
		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' ||
		    ch == '~')
			*o++ = (char)ch;
		else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}
