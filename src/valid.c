/*
 * Rolodex - input validators used at the edge of the API (see valid.h).
 *
 * These predicates are the last line between client bytes and the
 * database, the outbox and the SaaS adapters, so they are strict and
 * simple: each accepts a precisely described language and refuses
 * everything else.  Invariants: no allocation, no logging, no global
 * state, no locale dependence (ctype.h is avoided on purpose: its answers
 * change with setlocale() and it is undefined for negative chars), and a
 * NULL string is always invalid.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "valid.h"

#define EMAIL_MAX	254	/* RFC 5321 path limit minus the brackets */
#define EMAIL_LOCAL_MAX	64
#define LABEL_MAX	63
#define URL_MAX		2048
#define SYSNAME_MAX	64
#define IDENT_MAX	255
#define UUID_LEN	36
#define E164_MIN	8
#define E164_MAX	15
#define US_PER_SEC	INT64_C(1000000)
#define SEC_PER_DAY	INT64_C(86400)

/*
 * What text_scan() learns about a string besides its well-formedness.
 */
struct text_info {
	size_t	chars;		/* code points */
	bool	nonspace;	/* at least one code point is not white space */
	bool	control;	/* some Cc code point: C0 (any), DEL or C1 */
};

/*
 * ISO 3166-1 alpha-2 codes officially assigned by the ISO 3166
 * Maintenance Agency: 249 codes, sorted for bsearch().  User-assigned
 * (XK, AA, ZZ...), exceptionally reserved (UK, EU, AC...) and withdrawn
 * (AN, YU, CS...) codes are deliberately absent.
 */
static const char country_codes[][3] = {
	"AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR",
	"AS", "AT", "AU", "AW", "AX", "AZ",
	"BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL",
	"BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY",
	"BZ",
	"CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM",
	"CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ",
	"DE", "DJ", "DK", "DM", "DO", "DZ",
	"EC", "EE", "EG", "EH", "ER", "ES", "ET",
	"FI", "FJ", "FK", "FM", "FO", "FR",
	"GA", "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM",
	"GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY",
	"HK", "HM", "HN", "HR", "HT", "HU",
	"ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT",
	"JE", "JM", "JO", "JP",
	"KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY",
	"KZ",
	"LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV",
	"LY",
	"MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM",
	"MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW",
	"MX", "MY", "MZ",
	"NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR",
	"NU", "NZ",
	"OM",
	"PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR",
	"PS", "PT", "PW", "PY",
	"QA",
	"RE", "RO", "RS", "RU", "RW",
	"SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK",
	"SL", "SM", "SN", "SO", "SR", "SS", "ST", "SV", "SX", "SY",
	"SZ",
	"TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN",
	"TO", "TR", "TT", "TV", "TW", "TZ",
	"UA", "UG", "UM", "US", "UY", "UZ",
	"VA", "VC", "VE", "VG", "VI", "VN", "VU",
	"WF", "WS",
	"YE", "YT",
	"ZA", "ZM", "ZW",
};

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* RFC 5322 atext: the characters of a dot-atom other than the dot. */
static bool
is_atext(int c)
{
	return is_alpha(c) || is_digit(c) ||
	    (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Unicode White_Space property (the code points valid_utf8 can pass). */
static bool
is_space_cp(uint32_t cp)
{
	switch (cp) {
	case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20:
	case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029:
	case 0x202F: case 0x205F: case 0x3000:
		return true;
	default:
		return cp >= 0x2000 && cp <= 0x200A;
	}
}

/*
 * Decode one UTF-8 sequence from the len bytes at p into *cp.  Returns
 * the number of bytes used, or 0 if the sequence is ill-formed:
 * truncated, a bad continuation byte, overlong, a surrogate or beyond
 * U+10FFFF.  Lead bytes C0, C1 and F5-FF can never start a valid
 * sequence and are refused up front.
 */
static size_t
utf8_decode(const unsigned char *p, size_t len, uint32_t *cp)
{
	uint32_t	 v, min;
	size_t		 n, i;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] < 0xC2)
		return 0;
	if (p[0] < 0xE0) {
		n = 2;
		min = 0x80;
		v = p[0] & 0x1F;
	} else if (p[0] < 0xF0) {
		n = 3;
		min = 0x800;
		v = p[0] & 0x0F;
	} else if (p[0] < 0xF5) {
		n = 4;
		min = 0x10000;
		v = p[0] & 0x07;
	} else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
		return 0;
	*cp = v;
	return n;
}

/*
 * Walk len bytes of s as UTF-8 under the valid_utf8() rules, filling
 * *ti (which may be NULL).  Returns false at the first offence.
 */
static bool
text_scan(const char *s, size_t len, struct text_info *ti)
{
	const unsigned char	*p = (const unsigned char *)s;
	struct text_info	 info = { 0, false, false };
	uint32_t		 cp;
	size_t			 n;

	while (len > 0) {
		if ((n = utf8_decode(p, len, &cp)) == 0)
			return false;
		/* NUL, C0 controls other than tab/LF/CR, and DEL. */
		if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
		    cp == 0x7F)
			return false;
		if (cp < 0x20 || (cp >= 0x80 && cp <= 0x9F))
			info.control = true;
		if (!is_space_cp(cp))
			info.nonspace = true;
		info.chars++;
		p += n;
		len -= n;
	}
	if (ti != NULL)
		*ti = info;
	return true;
}

/*
 * Check that s holds len bytes of well-formed UTF-8 with no NUL, no C0
 * control other than tab, LF and CR, and no DEL.  Returns false for a
 * NULL s.
 */
bool
valid_utf8(const char *s, size_t len)
{
	if (s == NULL)
		return false;
	return text_scan(s, len, NULL);
}

/*
 * Count the code points of s, which the caller has already checked with
 * valid_utf8(): every byte that is not a continuation byte starts one.
 */
size_t
valid_utf8_chars(const char *s)
{
	const unsigned char	*p;
	size_t			 n = 0;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if ((*p & 0xC0) != 0x80)
			n++;
	return n;
}

/*
 * Check that s is valid_utf8() text of min_chars to max_chars code
 * points and, when min_chars > 0, not white space only (a required field
 * of blanks is as empty as a missing one).
 */
bool
valid_text(const char *s, size_t min_chars, size_t max_chars)
{
	struct text_info	 ti;

	if (s == NULL || min_chars > max_chars)
		return false;
	if (!text_scan(s, strlen(s), &ti))
		return false;
	if (ti.chars < min_chars || ti.chars > max_chars)
		return false;
	return min_chars == 0 || ti.nonspace;
}

/*
 * Check an E.164 number in its international form: '+', then 8 to 15
 * digits (ITU-T E.164 allows at most 15), the first not 0.  Spaces,
 * dashes and parentheses are refused: clients normalise.
 */
bool
valid_e164(const char *s)
{
	size_t	 n;

	if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
		return false;
	for (n = 1; is_digit(s[n]); n++)
		continue;
	/* n counts the '+' too. */
	return s[n] == '\0' && n - 1 >= E164_MIN && n - 1 <= E164_MAX;
}

/* bsearch() comparator over two-letter codes. */
static int
country_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 2);
}

/*
 * Check that s is an officially assigned ISO 3166-1 alpha-2 code in
 * upper case.
 */
bool
valid_country(const char *s)
{
	if (s == NULL || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' ||
	    s[1] > 'Z' || s[2] != '\0')
		return false;
	return bsearch(s, country_codes,
	    sizeof(country_codes) / sizeof(country_codes[0]),
	    sizeof(country_codes[0]), country_cmp) != NULL;
}

/* Read exactly n decimal digits at s into *out. */
static bool
get_digits(const char *s, size_t n, int *out)
{
	int	 v = 0;
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int	 mdays[12] =
	    { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : mdays[m - 1];
}

/*
 * Parse the 10 bytes "YYYY-MM-DD" at s (what follows is the caller's
 * business) into a real proleptic Gregorian date of year 0 to 9999.
 */
static bool
parse_date(const char *s, int *y, int *m, int *d)
{
	if (!get_digits(s, 4, y) || s[4] != '-' ||
	    !get_digits(s + 5, 2, m) || s[7] != '-' ||
	    !get_digits(s + 8, 2, d))
		return false;
	return *m >= 1 && *m <= 12 && *d >= 1 && *d <= days_in_month(*y, *m);
}

/*
 * Days from 1970-01-01 to the given proleptic Gregorian date (negative
 * before), by the era arithmetic of Howard Hinnant's days_from_civil:
 * exact for every year and free of time_t and time zone concerns.
 */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t	 yy, era, yoe, doy, doe;

	yy = m <= 2 ? y - 1 : y;
	era = (yy >= 0 ? yy : yy - 399) / 400;
	yoe = yy - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/*
 * Check that s is exactly "YYYY-MM-DD", a real calendar date (leap years
 * included) with a year from 1000 to 9999.
 */
bool
valid_date(const char *s)
{
	int	 y, m, d;

	if (s == NULL || strlen(s) != 10 || !parse_date(s, &y, &m, &d))
		return false;
	return y >= 1000;
}

/*
 * Check valid_date() and that the date is not after the UTC calendar
 * date of now (a birth date "today" is fine whatever the client's zone).
 */
bool
valid_date_not_future(const char *s, time_t now)
{
	int64_t	 t = (int64_t)now, today;
	int	 y, m, d;

	if (!valid_date(s) || !parse_date(s, &y, &m, &d))
		return false;
	/* Floor division: 1969-12-31T23:59:59Z is day -1, not 0. */
	today = t / SEC_PER_DAY;
	if (t % SEC_PER_DAY < 0)
		today--;
	return days_from_civil(y, m, d) <= today;
}

/*
 * Check one domain name label of n bytes: 1 to 63 letters, digits and
 * hyphens, neither first nor last a hyphen.
 */
static bool
valid_label(const char *p, size_t n)
{
	size_t	 i;

	if (n == 0 || n > LABEL_MAX || p[0] == '-' || p[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!is_alpha(p[i]) && !is_digit(p[i]) && p[i] != '-')
			return false;
	return true;
}

/*
 * Check a pragmatic addr-spec: at most 254 bytes; a dot-atom local part
 * of 1 to 64 atext bytes with no leading, trailing or double dot; '@';
 * at least two valid labels, the last alphabetic and 2 or more long.
 * Quoted strings, comments, IP literals and non-ASCII are refused: they
 * are legal but rare, and the SaaS systems downstream reject them.
 */
bool
valid_email(const char *s)
{
	const char	*at, *p, *label, *dot;
	size_t		 len, i, labels;

	if (s == NULL || (len = strlen(s)) > EMAIL_MAX ||
	    (at = strchr(s, '@')) == NULL)
		return false;

	/* Local part: dots only between atext runs. */
	len = (size_t)(at - s);
	if (len == 0 || len > EMAIL_LOCAL_MAX || s[0] == '.' ||
	    s[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!is_atext(s[i]))
			return false;
	}

	/* Domain: labels up to the end; another '@' fails valid_label(). */
	labels = 0;
	for (label = at + 1; ; label = dot + 1) {
		if ((dot = strchr(label, '.')) == NULL)
			break;
		if (!valid_label(label, (size_t)(dot - label)))
			return false;
		labels++;
	}
	len = strlen(label);
	if (!valid_label(label, len) || ++labels < 2 || len < 2)
		return false;
	for (p = label; *p != '\0'; p++)
		if (!is_alpha(*p))
			return false;
	return true;
}

/* Case-insensitive ASCII prefix test, free of locale. */
static bool
has_prefix_ci(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		int	 c = *s;

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != *prefix)
			return false;
	}
	return true;
}

/*
 * Check the host[:port] of n bytes at p: a bracketed IPv6 literal, or
 * dot-separated labels of [A-Za-z0-9_-] (names and IPv4 alike, one
 * trailing dot allowed); then, if there is a ':', a port 1 to 65535.
 */
static bool
valid_hostport(const char *p, size_t n)
{
	size_t	 i, h, lab;
	int	 port;

	if (n == 0)
		return false;
	if (p[0] == '[') {
		for (h = 1; h < n && p[h] != ']'; h++)
			if (!is_hex(p[h]) && p[h] != ':' && p[h] != '.')
				return false;
		if (h == n || h < 3)
			return false;
		h++;
	} else {
		for (h = 0, lab = 0; h < n && p[h] != ':'; h++) {
			if (p[h] == '.') {
				if (lab == 0)
					return false;
				lab = 0;
			} else if (is_alpha(p[h]) || is_digit(p[h]) ||
			    p[h] == '-' || p[h] == '_') {
				if (++lab > LABEL_MAX)
					return false;
			} else
				return false;
		}
		if (h == 0)
			return false;
	}
	if (h == n)
		return true;
	if (p[h] != ':' || n - h - 1 < 1 || n - h - 1 > 5)
		return false;
	for (port = 0, i = h + 1; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		port = port * 10 + (p[i] - '0');
	}
	return port >= 1 && port <= 65535;
}

/*
 * Check an absolute http or https URL (scheme in any case) of at most
 * 2048 bytes, made only of printable ASCII (so no white space, control
 * or raw non-ASCII byte: IRIs must be percent-encoded), with a host.
 * User information is refused: a contact record has no business holding
 * credentials, and "http://bank.example@evil.example" deceives readers.
 */
bool
valid_url(const char *s)
{
	const char	*p;
	size_t		 len, i, n;

	if (s == NULL || (len = strlen(s)) == 0 || len > URL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7F)
			return false;
	if (has_prefix_ci(s, "http://"))
		p = s + 7;
	else if (has_prefix_ci(s, "https://"))
		p = s + 8;
	else
		return false;

	/* The authority runs to the first '/', '?' or '#'. */
	n = strcspn(p, "/?#");
	if (memchr(p, '@', n) != NULL)
		return false;
	return valid_hostport(p, n);
}

/*
 * Check an external system name: 1 to 64 bytes of [a-z0-9._-], the
 * first [a-z0-9].  Lower case only, so "Salesforce" and "salesforce"
 * cannot name two systems.
 */
bool
valid_system_name(const char *s)
{
	size_t	 i;

	if (s == NULL || !((s[0] >= 'a' && s[0] <= 'z') || is_digit(s[0])))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= SYSNAME_MAX)
			return false;
		if (!(s[i] >= 'a' && s[i] <= 'z') && !is_digit(s[i]) &&
		    s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

/*
 * Check an external identifier: valid_text() of 1 to 255 code points
 * with no control character whatever (tab, newlines and C1 included),
 * since identifiers end up in URLs, log lines and SaaS queries.
 */
bool
valid_identifier(const char *s)
{
	struct text_info	 ti;

	if (s == NULL || !text_scan(s, strlen(s), &ti))
		return false;
	return ti.chars >= 1 && ti.chars <= IDENT_MAX && ti.nonspace &&
	    !ti.control;
}

/*
 * Check a canonical UUID: 36 bytes, hex digits of either case with
 * hyphens at offsets 8, 13, 18 and 23.  No braces, no "urn:uuid:".
 */
bool
valid_uuid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return false;
	for (i = 0; i < UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_hex(s[i]))
			return false;
	}
	return s[UUID_LEN] == '\0';
}

/*
 * Check an RFC 3339 date-time, full-date "T" full-time, and convert it
 * to microseconds since the epoch, UTC.  Years 0000-9999 (the RFC's
 * range), hours 00-23, minutes 00-59, seconds 00-60: a leap second is
 * accepted and, as POSIX time has none, counts as the next second.  The
 * fraction keeps microseconds and drops the rest (truncation, so a time
 * never moves into the next second).  Offsets are -23:59 to +23:59;
 * "-00:00" (offset unknown) is UTC.  On failure *epoch_us_out is not
 * written; it may be NULL.
 */
bool
valid_rfc3339(const char *s, int64_t *epoch_us_out)
{
	const char	*p;
	int		 y, mo, d, hh, mi, ss, oh = 0, om = 0, sign = 0;
	int64_t		 us = 0, scale = US_PER_SEC, secs;

	/*
	 * Each test below runs only if the ones before it matched, so a
	 * short string stops at its NUL and is never read beyond it.
	 */
	if (s == NULL || !parse_date(s, &y, &mo, &d))
		return false;
	if ((s[10] != 'T' && s[10] != 't') ||
	    !get_digits(s + 11, 2, &hh) || s[13] != ':' ||
	    !get_digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !get_digits(s + 17, 2, &ss) ||
	    hh > 23 || mi > 59 || ss > 60)
		return false;

	p = s + 19;
	if (*p == '.') {
		if (!is_digit(*++p))
			return false;
		for (; is_digit(*p); p++) {
			if (scale > 1) {
				scale /= 10;
				us += (*p - '0') * scale;
			}
		}
	}

	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (!get_digits(p + 1, 2, &oh) || p[3] != ':' ||
		    !get_digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return false;
		p += 6;
	} else
		return false;
	if (*p != '\0')
		return false;

	/* Local wall time minus the offset gives UTC. */
	secs = days_from_civil(y, mo, d) * SEC_PER_DAY +
	    hh * 3600 + mi * 60 + ss - sign * (oh * 3600 + om * 60);
	if (epoch_us_out != NULL)
		*epoch_us_out = secs * US_PER_SEC + us;
	return true;
}
