/*
 * Rolodex - opaque list cursors (see cursor.h).
 *
 * Layout before base64url: version (1), kind (1), id (16), then the key
 * bytes (names are UTF-8 text; times "YYYY-MM-DD HH:MM:SS.ffffff").
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "util.h"
#include "valid.h"
#include "xalloc.h"

#define CURSOR_V2	2
#define CURSOR_HDR	18

char *
cursor_encode(const struct cursor *c)
{
	size_t		 klen = strlen(c->key);
	unsigned char	*raw = xmalloc(CURSOR_HDR + klen);
	char		*s;

	raw[0] = CURSOR_V2;
	raw[1] = (unsigned char)c->kind;
	memcpy(raw + 2, c->id.b, 16);
	memcpy(raw + CURSOR_HDR, c->key, klen);
	s = b64url_encode(raw, CURSOR_HDR + klen);
	free(raw);
	return s;
}

int
cursor_decode(const char *s, struct cursor *c)
{
	unsigned char	*raw;
	size_t		 len, klen;
	int		 rc = -1;

	memset(c, 0, sizeof(*c));
	if (strlen(s) > (CURSOR_HDR + CURSOR_KEY_MAX) * 4 / 3 + 4 ||
	    (raw = b64url_decode(s, strlen(s), &len)) == NULL)
		return -1;
	if (len < CURSOR_HDR || raw[0] != CURSOR_V2 || raw[1] > CURSOR_UPDATED)
		goto out;
	klen = len - CURSOR_HDR;
	c->kind = (enum cursor_kind)raw[1];
	memcpy(c->id.b, raw + 2, 16);
	if (klen >= sizeof(c->key) || (c->kind == CURSOR_ID && klen != 0) ||
	    (c->kind == CURSOR_UPDATED && klen != 26))
		goto out;
	memcpy(c->key, raw + CURSOR_HDR, klen);
	c->key[klen] = '\0';
	if (strlen(c->key) != klen || !valid_utf8(c->key, klen))
		goto out;
	rc = 0;
out:
	free(raw);
	return rc;
}
