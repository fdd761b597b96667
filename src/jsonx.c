/*
 * Rolodex - JSON helpers (see jsonx.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "jsonx.h"
#include "valid.h"

/*
 * json-c accepts single-quoted strings and NaN/Infinity even in strict
 * mode; RFC 8259 does not.  Outside double-quoted strings only
 * structure, numbers and the letters of true, false and null may appear.
 */
static bool
has_foreign_token(const char *buf, size_t len)
{
	size_t	 i;
	bool	 in_str = false;

	for (i = 0; i < len; i++) {
		if (in_str) {
			if (buf[i] == '\\')
				i++;
			else if (buf[i] == '"')
				in_str = false;
		} else if (buf[i] == '"')
			in_str = true;
		else if (strchr(" \t\r\n{}[],:0123456789+-.eEtrufalsn",
		    buf[i]) == NULL)
			return true;
	}
	return false;
}

json_object *
jsonx_parse(const char *buf, size_t len, char *err, size_t errsz)
{
	struct json_tokener	*tok;
	json_object		*o;
	enum json_tokener_error	 jerr;
	size_t			 off;

	*err = '\0';
	if (len > (size_t)INT32_MAX - 1) {
		snprintf(err, errsz, "document too large");
		return NULL;
	}
	if (!valid_utf8(buf, len)) {
		snprintf(err, errsz, "malformed JSON: not valid UTF-8 text");
		return NULL;
	}
	if (has_foreign_token(buf, len)) {
		snprintf(err, errsz, "malformed JSON: unexpected character");
		return NULL;
	}
	if ((tok = json_tokener_new_ex(JSONX_MAX_DEPTH)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	off = json_tokener_get_parse_end(tok);
	if (jerr == json_tokener_continue) {
		/* Complete a top-level number or literal at end of input. */
		o = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
		off = len;
	}
	if (jerr != json_tokener_success) {
		snprintf(err, errsz, "malformed JSON: %s",
		    json_tokener_error_desc(jerr));
		json_object_put(o);
		o = NULL;
	} else {
		/* Only white space may follow the value. */
		for (; off < len; off++) {
			if (strchr(" \t\r\n", buf[off]) == NULL) {
				snprintf(err, errsz,
				    "malformed JSON: data after the value");
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return o;
}

const char *
jsonx_str(json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
	    JSON_C_TO_STRING_NOSLASHESCAPE);
}

void
jsonx_add_str(json_object *o, const char *k, const char *s)
{
	json_object_object_add(o, k, s == NULL ? NULL :
	    json_object_new_string(s));
}

void
jsonx_add_int(json_object *o, const char *k, long long v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

void
jsonx_add_bool(json_object *o, const char *k, bool v)
{
	json_object_object_add(o, k, json_object_new_boolean(v));
}

json_object *
jsonx_merge_patch(json_object *target, json_object *patch)
{
	json_object	*cur;

	if (!json_object_is_type(patch, json_type_object)) {
		json_object_put(target);
		return patch == NULL ? NULL : json_object_get(patch);
	}
	if (!json_object_is_type(target, json_type_object)) {
		json_object_put(target);
		target = json_object_new_object();
	}
	json_object_object_foreach(patch, k, v) {
		if (v == NULL) {
			json_object_object_del(target, k);
			continue;
		}
		cur = NULL;
		if (json_object_object_get_ex(target, k, &cur))
			cur = json_object_get(cur);
		cur = jsonx_merge_patch(cur, v);
		json_object_object_add(target, k, cur);
	}
	return target;
}

bool
jsonx_equal(json_object *a, json_object *b)
{
	return json_object_equal(a, b) != 0;
}

void
jsonx_pointer_token(char *dst, size_t dsz, const char *s)
{
	size_t	 o = 0;

	for (; *s != '\0' && o + 3 < dsz; s++) {
		if (*s == '~' || *s == '/') {
			dst[o++] = '~';
			dst[o++] = *s == '~' ? '0' : '1';
		} else
			dst[o++] = *s;
	}
	dst[o] = '\0';
}
