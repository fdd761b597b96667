/*
 * Rolodex - JSON helpers on top of json-c.
 *
 * Parsing is strict (RFC 8259: no comments, no trailing garbage), checks
 * UTF-8, and bounds nesting depth, so a hostile body cannot recurse the
 * parser into the ground.  Serialisation is compact and does not escape
 * '/'.
 */
#ifndef ROLODEX_JSONX_H
#define ROLODEX_JSONX_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#define JSONX_MAX_DEPTH	16

/*
 * Parse len bytes as one JSON value.  Returns a new reference (put it with
 * json_object_put) or NULL with a reason in err[errsz].  A literal JSON
 * null also yields NULL, with err left empty.
 */
json_object	*jsonx_parse(const char *, size_t, char *err, size_t errsz);

/* Compact text of o, owned by o (valid until o is put or changed). */
const char	*jsonx_str(json_object *);

/* Add k: s to o; s NULL adds a JSON null. */
void		 jsonx_add_str(json_object *, const char *k, const char *s);
void		 jsonx_add_int(json_object *, const char *k, long long);
void		 jsonx_add_bool(json_object *, const char *k, bool);

/*
 * Apply an RFC 7396 merge patch to target in place.  Returns the result,
 * which is target unless patch is not an object (then a copy of patch
 * replaces it).  Takes ownership of target; borrows patch.
 */
json_object	*jsonx_merge_patch(json_object *target, json_object *patch);

/* Deep equality of two values (object member order ignored). */
bool		 jsonx_equal(json_object *, json_object *);

/* Escape s as a JSON Pointer reference token into dst. */
void		 jsonx_pointer_token(char *dst, size_t dsz, const char *s);

#endif
