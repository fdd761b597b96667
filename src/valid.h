/*
 * Rolodex - input validators used at the edge of the API.
 *
 * Every string a client sends is checked by one of these predicates
 * before it reaches a handler, a SQL statement or an outbox event (the
 * field tables in the API call them; see STYLE.md section 5).  They are
 * pure functions: they never allocate, never log, never keep state, and
 * treat a NULL string as invalid.  All take NUL-terminated strings except
 * valid_utf8(), which takes a length so that embedded NUL bytes can be
 * seen and refused.
 */
#ifndef ROLODEX_VALID_H
#define ROLODEX_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * Well-formed UTF-8 of len bytes: no NUL, no overlong forms, no
 * surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no C0 control
 * character except tab, LF and CR, no DEL.
 */
bool	valid_utf8(const char *s, size_t len);

/* Number of code points in s, which must already pass valid_utf8(). */
size_t	valid_utf8_chars(const char *s);

/*
 * valid_utf8() and between min_chars and max_chars code points; when
 * min_chars > 0 it must also contain something other than white space.
 */
bool	valid_text(const char *s, size_t min_chars, size_t max_chars);

/* E.164 telephone number: '+', then 8 to 15 digits, the first 1-9. */
bool	valid_e164(const char *s);

/* ISO 3166-1 alpha-2 country code, upper case, officially assigned. */
bool	valid_country(const char *s);

/* Exactly YYYY-MM-DD, a real calendar date, year 1000 to 9999. */
bool	valid_date(const char *s);

/* valid_date() and not after the UTC calendar date of now. */
bool	valid_date_not_future(const char *s, time_t now);

/*
 * Pragmatic e-mail addr-spec: at most 254 bytes, ASCII only, a dot-atom
 * local part of 1 to 64 bytes, '@', a domain of at least two LDH labels
 * of 1 to 63 bytes ending in an alphabetic TLD of 2 or more letters.
 * No quoted local parts, no IP literals.
 */
bool	valid_email(const char *s);

/*
 * Absolute http:// or https:// URL of at most 2048 bytes, printable
 * ASCII only, with a host (name, IPv4 or [IPv6]) and an optional port.
 * User information ("user:pass@") is refused.
 */
bool	valid_url(const char *s);

/* External system name: 1 to 64 of [a-z0-9._-], starting [a-z0-9]. */
bool	valid_system_name(const char *s);

/*
 * External identifier: valid_text() of 1 to 255 code points with no
 * control character at all (C0, DEL or C1, tab and newlines included).
 */
bool	valid_identifier(const char *s);

/* Canonical 8-4-4-4-12 hexadecimal UUID, either case. */
bool	valid_uuid(const char *s);

/*
 * RFC 3339 date-time ("T" or "t"; "Z", "z" or a +hh:mm / -hh:mm offset;
 * an optional fraction of which the first 6 digits are used).  On
 * success stores microseconds since the Unix epoch (UTC) in *epoch_us_out
 * if it is not NULL; on failure *epoch_us_out is left untouched.
 */
bool	valid_rfc3339(const char *s, int64_t *epoch_us_out);

#endif
