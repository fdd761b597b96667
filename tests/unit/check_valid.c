/*
 * Rolodex unit tests: the edge validators (valid.c).
 *
 * Each validator has a table of good inputs ("valid"), a table of bad
 * inputs ("invalid", one loop iteration per entry so a failure names the
 * entry) and exact boundary checks ("limits": the last accepted and the
 * first refused value of every bound).
 */
#include "config.h"

#include <stdint.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "tests.h"
#include "valid.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* A byte string with an explicit length, so it may hold NUL. */
struct bytes {
	const char	*s;
	size_t		 len;
};
#define BYTES(lit)	{ (lit), sizeof(lit) - 1 }

struct text_case {
	const char	*s;
	size_t		 min, max;
};

struct ts_case {
	const char	*s;
	int64_t		 us;
};

/* 2024-06-15T00:00:00Z, a fixed "now" for the not-in-future checks. */
#define NOW_20240615	((time_t)1718409600)

/* Fill buf with n copies of c and a NUL; returns buf. */
static char *
fill(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

/* Fill buf with n copies of the NUL-terminated sequence seq. */
static char *
repeat(char *buf, const char *seq, size_t n)
{
	size_t	 l = strlen(seq), i;

	for (i = 0; i < n; i++)
		memcpy(buf + i * l, seq, l);
	buf[n * l] = '\0';
	return buf;
}

/* ---------------------------------------------------------------- utf8 */

static const struct bytes good_utf8[] = {
	BYTES(""),
	BYTES("abc"),
	BYTES("Zo\xc3\xab"),			/* Zoë */
	BYTES("\xe2\x82\xac"),			/* U+20AC euro */
	BYTES("\xf0\x9d\x84\x9e"),		/* U+1D11E */
	BYTES("\t\n\r"),
	BYTES(" ~"),
	BYTES("\xc2\x80"),			/* U+0080, first 2-byte */
	BYTES("\xc2\x85"),			/* C1 NEL: not refused here */
	BYTES("\xdf\xbf"),			/* U+07FF */
	BYTES("\xe0\xa0\x80"),			/* U+0800, first 3-byte */
	BYTES("\xed\x9f\xbf"),			/* U+D7FF */
	BYTES("\xee\x80\x80"),			/* U+E000 */
	BYTES("\xef\xbf\xbf"),			/* U+FFFF */
	BYTES("\xf0\x90\x80\x80"),		/* U+10000, first 4-byte */
	BYTES("\xf4\x8f\xbf\xbf"),		/* U+10FFFF */
	BYTES("\xe6\x97\xa5\xe6\x9c\xac"),	/* Japanese */
};

static const struct bytes bad_utf8[] = {
	BYTES("\xc0\xaf"),			/* overlong '/' */
	BYTES("\xc1\xbf"),			/* overlong U+007F */
	BYTES("\xc0\x80"),			/* overlong NUL */
	BYTES("\xe0\x80\xaf"),			/* overlong 3-byte */
	BYTES("\xe0\x9f\xbf"),			/* overlong U+07FF */
	BYTES("\xf0\x80\x80\xaf"),		/* overlong 4-byte */
	BYTES("\xf0\x8f\xbf\xbf"),		/* overlong U+FFFF */
	BYTES("\xed\xa0\x80"),			/* surrogate U+D800 */
	BYTES("\xed\xbf\xbf"),			/* surrogate U+DFFF */
	BYTES("\xed\xa0\xbd\xed\xb8\x80"),	/* CESU-8 pair */
	BYTES("\xf4\x90\x80\x80"),		/* U+110000 */
	BYTES("\xf5\x80\x80\x80"),
	BYTES("\xf8\x88\x80\x80\x80"),		/* 5-byte form */
	BYTES("\xfc\x84\x80\x80\x80\x80"),	/* 6-byte form */
	BYTES("\xfe"),
	BYTES("\xff"),
	BYTES("\x80"),				/* lone continuation */
	BYTES("a\xbf"),
	BYTES("\xc3"),				/* truncated 2-byte */
	BYTES("\xe2\x82"),			/* truncated 3-byte */
	BYTES("\xf0\x9d\x84"),			/* truncated 4-byte */
	BYTES("abc\xc3"),			/* truncated at the end */
	BYTES("\xc3\x28"),			/* bad continuation */
	BYTES("\xe2\x28\xac"),
	BYTES("\xf0\x9d\x28\x9e"),
	BYTES("a\0b"),				/* embedded NUL */
	BYTES("\0"),
	BYTES("\x01"),
	BYTES("\x08"),
	BYTES("\x0b"),				/* VT */
	BYTES("\x0c"),				/* FF */
	BYTES("\x1b[31m"),			/* ESC */
	BYTES("\x1f"),
	BYTES("\x7f"),				/* DEL */
};

START_TEST(test_valid_ok_utf8)
{
	ck_assert_msg(valid_utf8(good_utf8[_i].s, good_utf8[_i].len),
	    "good_utf8[%d] refused", _i);
}
END_TEST

START_TEST(test_valid_bad_utf8)
{
	ck_assert_msg(!valid_utf8(bad_utf8[_i].s, bad_utf8[_i].len),
	    "bad_utf8[%d] accepted", _i);
}
END_TEST

START_TEST(test_valid_utf8_chars)
{
	static const struct {
		const char	*s;
		size_t		 n;
	} t[] = {
		{ "", 0 },
		{ "abc", 3 },
		{ "Zo\xc3\xab", 3 },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e", 3 },
		{ "\xf4\x8f\xbf\xbf" "a", 2 },
	};
	size_t	 i;

	for (i = 0; i < NELEM(t); i++)
		ck_assert_uint_eq(valid_utf8_chars(t[i].s), t[i].n);
}
END_TEST

START_TEST(test_valid_limit_utf8)
{
	/* The length decides, not the NUL. */
	ck_assert(!valid_utf8("a\0b", 3));
	ck_assert(valid_utf8("a\0b", 1));
	ck_assert(valid_utf8("ab\0", 2));
	ck_assert(!valid_utf8("ab\0", 3));
	ck_assert(!valid_utf8("\xc3\xa9", 1));	/* cut inside a sequence */
	ck_assert(valid_utf8("\xc3\xa9", 2));
	ck_assert(!valid_utf8("\xf0\x9d\x84\x9e", 3));
	ck_assert(valid_utf8("x", 0));

	/* Code point boundaries, each side. */
	ck_assert(!valid_utf8("\x1f", 1));
	ck_assert(valid_utf8("\x20", 1));
	ck_assert(valid_utf8("\x7e", 1));
	ck_assert(!valid_utf8("\x7f", 1));
	ck_assert(!valid_utf8("\xc1\xbf", 2));		/* U+007F overlong */
	ck_assert(valid_utf8("\xc2\x80", 2));		/* U+0080 */
	ck_assert(!valid_utf8("\xe0\x9f\xbf", 3));	/* U+07FF overlong */
	ck_assert(valid_utf8("\xe0\xa0\x80", 3));	/* U+0800 */
	ck_assert(valid_utf8("\xed\x9f\xbf", 3));	/* U+D7FF */
	ck_assert(!valid_utf8("\xed\xa0\x80", 3));	/* U+D800 */
	ck_assert(!valid_utf8("\xed\xbf\xbf", 3));	/* U+DFFF */
	ck_assert(valid_utf8("\xee\x80\x80", 3));	/* U+E000 */
	ck_assert(!valid_utf8("\xf0\x8f\xbf\xbf", 4));	/* U+FFFF overlong */
	ck_assert(valid_utf8("\xf0\x90\x80\x80", 4));	/* U+10000 */
	ck_assert(valid_utf8("\xf4\x8f\xbf\xbf", 4));	/* U+10FFFF */
	ck_assert(!valid_utf8("\xf4\x90\x80\x80", 4));	/* U+110000 */
}
END_TEST

/* ---------------------------------------------------------------- text */

static const struct text_case good_text[] = {
	{ "Ann", 1, 100 },
	{ "", 0, 10 },
	{ "   ", 0, 10 },			/* optional: blanks allowed */
	{ " Ann ", 1, 5 },
	{ "Zo\xc3\xab", 1, 3 },
	{ "line one\nline two\r\n\tend", 1, 100 },
	{ "\xe6\x97\xa5\xe6\x9c\xac", 2, 2 },
	{ "x", 1, 1 },
};

static const struct text_case bad_text[] = {
	{ "", 1, 10 },
	{ " ", 1, 10 },
	{ "   ", 1, 10 },
	{ "\t\n\r ", 1, 10 },
	{ "\xc2\xa0", 1, 10 },			/* NBSP only */
	{ "\xe3\x80\x80", 1, 10 },		/* ideographic space only */
	{ "\xe2\x80\x83\xe2\x80\xa8", 1, 10 },	/* em space, line sep */
	{ "abcd", 1, 3 },
	{ "ab", 3, 10 },
	{ "Ann", 5, 4 },			/* min > max */
	{ "\xc0\xaf", 0, 10 },
	{ "a\x01", 1, 10 },
	{ "a\x7f", 1, 10 },
	{ "\xed\xa0\x80", 0, 10 },
	{ "abc\xc3", 1, 10 },
};

START_TEST(test_valid_ok_text)
{
	const struct text_case	*t = &good_text[_i];

	ck_assert_msg(valid_text(t->s, t->min, t->max),
	    "good_text[%d] \"%s\" [%zu,%zu] refused", _i, t->s, t->min,
	    t->max);
}
END_TEST

START_TEST(test_valid_bad_text)
{
	const struct text_case	*t = &bad_text[_i];

	ck_assert_msg(!valid_text(t->s, t->min, t->max),
	    "bad_text[%d] \"%s\" [%zu,%zu] accepted", _i, t->s, t->min,
	    t->max);
}
END_TEST

START_TEST(test_valid_limit_text)
{
	char	 buf[4 * 300 + 1];

	/* max_chars counts code points, not bytes. */
	ck_assert(valid_text(repeat(buf, "\xc3\xa9", 3), 1, 3));
	ck_assert(!valid_text(repeat(buf, "\xc3\xa9", 4), 1, 3));
	ck_assert(valid_text(repeat(buf, "\xf0\x9d\x84\x9e", 3), 3, 3));
	ck_assert(!valid_text(repeat(buf, "\xf0\x9d\x84\x9e", 4), 3, 3));
	ck_assert(valid_text(repeat(buf, "\xe2\x82\xac", 100), 1, 100));
	ck_assert(!valid_text(repeat(buf, "\xe2\x82\xac", 101), 1, 100));
	ck_assert(valid_text(fill(buf, 'a', 100), 1, 100));
	ck_assert(!valid_text(fill(buf, 'a', 101), 1, 100));

	/* min_chars likewise. */
	ck_assert(!valid_text("\xe2\x82\xac", 2, 10));
	ck_assert(valid_text("\xe2\x82\xac\xe2\x82\xac", 2, 10));

	/* One non-blank among blanks is enough. */
	ck_assert(valid_text("   .   ", 1, 10));
	ck_assert(!valid_text("       ", 1, 10));
}
END_TEST

/* ---------------------------------------------------------------- e164 */

static const char *const good_e164[] = {
	"+12345678",			/* 8 digits */
	"+123456789012345",		/* 15 digits */
	"+447911123456",
	"+14155552671",
	"+33123456789",
	"+8613800138000",
	"+90000000",
};

static const char *const bad_e164[] = {
	"",
	"+",
	"12345678",
	"+0123456789",
	"+1234567",
	"+1234567890123456",
	"+12 3456789",
	"+1234567a90",
	"++12345678",
	"+12345678 ",
	" +12345678",
	"+12345678\n",
	"+1-415-555-2671",
	"+1(415)5552671",
	"00447911123456",
	"+\xd9\xa1\xd9\xa2\xd9\xa3\xd9\xa4\xd9\xa5\xd9\xa6\xd9\xa7\xd9\xa8",
	("+\xef\xbc\x91" "2345678"),	/* fullwidth 1 */
	"+-12345678",
};

START_TEST(test_valid_ok_e164)
{
	ck_assert_msg(valid_e164(good_e164[_i]), "\"%s\" refused",
	    good_e164[_i]);
}
END_TEST

START_TEST(test_valid_bad_e164)
{
	ck_assert_msg(!valid_e164(bad_e164[_i]), "\"%s\" accepted",
	    bad_e164[_i]);
}
END_TEST

START_TEST(test_valid_limit_e164)
{
	ck_assert(!valid_e164("+1234567"));		/* 7 */
	ck_assert(valid_e164("+12345678"));		/* 8 */
	ck_assert(valid_e164("+123456789012345"));	/* 15 */
	ck_assert(!valid_e164("+1234567890123456"));	/* 16 */
	ck_assert(valid_e164("+10000000"));
	ck_assert(!valid_e164("+00000000"));
	ck_assert(valid_e164("+99999999"));
}
END_TEST

/* ------------------------------------------------------------- country */

static const char *const good_country[] = {
	"AD", "AX", "BQ", "CW", "DE", "FR", "GB", "IE", "JP", "PS",
	"SS", "SX", "TW", "US", "ZA", "ZW",
};

static const char *const bad_country[] = {
	"gb",
	"UK",				/* exceptionally reserved */
	"XX",
	"G",
	"GBR",
	"",
	"Gb",
	"gB",
	"XK",				/* user-assigned (Kosovo) */
	"EU",
	"AC",
	"AA",
	"ZZ",
	"AN",				/* withdrawn */
	"YU",
	"CS",
	"SU",
	"TP",
	"G1",
	" GB",
	"GB ",
	"GB\n",
	"\xc3\x89S",
};

START_TEST(test_valid_ok_country)
{
	ck_assert_msg(valid_country(good_country[_i]), "\"%s\" refused",
	    good_country[_i]);
}
END_TEST

START_TEST(test_valid_bad_country)
{
	ck_assert_msg(!valid_country(bad_country[_i]), "\"%s\" accepted",
	    bad_country[_i]);
}
END_TEST

START_TEST(test_valid_limit_country)
{
	char	 cc[3] = { 0, 0, 0 };
	int	 n = 0;

	/* Exactly the 249 assigned codes among all 676 pairs. */
	for (cc[0] = 'A'; cc[0] <= 'Z'; cc[0]++)
		for (cc[1] = 'A'; cc[1] <= 'Z'; cc[1]++)
			if (valid_country(cc))
				n++;
	ck_assert_int_eq(n, 249);

	/* The ends of the sorted table. */
	ck_assert(valid_country("AD"));
	ck_assert(!valid_country("AC"));
	ck_assert(valid_country("ZW"));
	ck_assert(!valid_country("ZX"));
}
END_TEST

/* ---------------------------------------------------------------- date */

static const char *const good_date[] = {
	"2024-02-29",
	"2000-02-29",
	"2023-12-31",
	"2023-04-30",
	"2023-01-31",
	"1970-01-01",
	"1000-01-01",
	"9999-12-31",
	"1600-02-29",
};

static const char *const bad_date[] = {
	"2023-02-29",
	"2024-13-01",
	"2024-1-01",
	"2024-01-1",
	"2024-01-01T",
	"0999-01-01",
	"0000-01-01",
	"1900-02-29",
	"2100-02-29",
	"2024-02-30",
	"2024-00-10",
	"2024-01-00",
	"2024-04-31",
	"2024-06-31",
	"2024-01-32",
	"2024/01/01",
	"20240101",
	"",
	"10000-01-01",
	" 2024-01-01",
	"2024-01-01 ",
	"+024-01-01",
	"-024-01-01",
	"2024-0a-01",
	"2024-01-01T00:00:00Z",
	"01-01-2024",
	"2024-1-1",
};

START_TEST(test_valid_ok_date)
{
	ck_assert_msg(valid_date(good_date[_i]), "\"%s\" refused",
	    good_date[_i]);
}
END_TEST

START_TEST(test_valid_bad_date)
{
	ck_assert_msg(!valid_date(bad_date[_i]), "\"%s\" accepted",
	    bad_date[_i]);
	ck_assert_msg(!valid_date_not_future(bad_date[_i], NOW_20240615),
	    "\"%s\" accepted as past", bad_date[_i]);
}
END_TEST

static const char *const good_past[] = {
	"2024-06-15",				/* today */
	"2024-06-14",
	"2024-02-29",
	"1970-01-01",
	"1000-01-01",
};

static const char *const bad_past[] = {
	"2024-06-16",
	"2024-07-01",
	"2025-01-01",
	"9999-12-31",
	"2024-02-30",
	"0999-01-01",
	"",
};

START_TEST(test_valid_ok_date_not_future)
{
	ck_assert_msg(valid_date_not_future(good_past[_i], NOW_20240615),
	    "\"%s\" refused", good_past[_i]);
}
END_TEST

START_TEST(test_valid_bad_date_future)
{
	ck_assert_msg(!valid_date_not_future(bad_past[_i], NOW_20240615),
	    "\"%s\" accepted", bad_past[_i]);
}
END_TEST

START_TEST(test_valid_limit_date)
{
	/* Year range. */
	ck_assert(!valid_date("0999-12-31"));
	ck_assert(valid_date("1000-01-01"));
	ck_assert(valid_date("9999-12-31"));

	/* Month ends. */
	ck_assert(valid_date("2023-02-28"));
	ck_assert(!valid_date("2023-02-29"));
	ck_assert(valid_date("2024-02-29"));
	ck_assert(!valid_date("2024-02-30"));
	ck_assert(valid_date("2024-11-30"));
	ck_assert(!valid_date("2024-11-31"));
	ck_assert(valid_date("2024-12-31"));
	ck_assert(!valid_date("2024-12-32"));

	/* "Today" is the UTC date of now, from its first to last second. */
	ck_assert(valid_date_not_future("2024-06-15", NOW_20240615));
	ck_assert(valid_date_not_future("2024-06-15", NOW_20240615 + 86399));
	ck_assert(!valid_date_not_future("2024-06-16", NOW_20240615 + 86399));
	ck_assert(valid_date_not_future("2024-06-16", NOW_20240615 + 86400));
	ck_assert(!valid_date_not_future("2024-06-15", NOW_20240615 - 1));
	ck_assert(valid_date_not_future("2024-06-14", NOW_20240615 - 1));

	/* Around the epoch (floor, not truncation, of negative times). */
	ck_assert(valid_date_not_future("1970-01-01", (time_t)0));
	ck_assert(!valid_date_not_future("1970-01-02", (time_t)0));
	ck_assert(valid_date_not_future("1969-12-31", (time_t)-1));
	ck_assert(!valid_date_not_future("1970-01-01", (time_t)-1));
	ck_assert(!valid_date_not_future("1969-12-31", (time_t)-86401));
}
END_TEST

/* --------------------------------------------------------------- email */

static const char *const good_email[] = {
	"a@example.com",
	"first.last@example.co.uk",
	"user+tag@example.org",
	"x!#$%&'*+-/=?^_`{|}~@example.com",
	"a@b.io",
	"A@EXAMPLE.COM",
	"a@xn--bcher-kva.example",
	"a@a-b.example.com",
	"1@123.example.com",
	"o'brien@example.ie",
	"a.b.c@x1.example",
};

static const char *const bad_email[] = {
	"a@b",
	"a..b@example.com",
	".a@example.com",
	"a.@example.com",
	"a@-example.com",
	"a@example-.com",
	"a@example.c0m",
	"a@example.c",
	"a@example.123",
	"",
	"@example.com",
	"a@",
	"a",
	"a@@example.com",
	"a@b@example.com",
	"\"a\"@example.com",
	"\"a b\"@example.com",
	"a@[192.168.0.1]",
	"a@[IPv6:::1]",
	"a@192.168.0.1",
	"a b@example.com",
	"a@exa mple.com",
	"a@example..com",
	"a@.example.com",
	"a@example.com.",
	"a@example",
	"\xc3\xa9@example.com",
	"a@ex\xc3\xa4mple.com",
	"a(b)@example.com",
	"a,b@example.com",
	"a;b@example.com",
	"a\\b@example.com",
	"a@example.com\n",
	" a@example.com",
	"a@example.com ",
	"a@exa_mple.com",
	"a@example.com>",
	"<a@example.com>",
	"Ann <a@example.com>",
};

START_TEST(test_valid_ok_email)
{
	ck_assert_msg(valid_email(good_email[_i]), "\"%s\" refused",
	    good_email[_i]);
}
END_TEST

START_TEST(test_valid_bad_email)
{
	ck_assert_msg(!valid_email(bad_email[_i]), "\"%s\" accepted",
	    bad_email[_i]);
}
END_TEST

/*
 * Build "<local of nlocal 'a'>@<63 b>.<63 c>.<nlast d>.com", an address
 * of nlocal + 1 + 63 + 1 + 63 + 1 + nlast + 4 bytes.
 */
static char *
long_email(char *buf, size_t nlocal, size_t nlast)
{
	char	*p = buf;

	memset(p, 'a', nlocal);
	p += nlocal;
	*p++ = '@';
	memset(p, 'b', 63);
	p += 63;
	*p++ = '.';
	memset(p, 'c', 63);
	p += 63;
	*p++ = '.';
	memset(p, 'd', nlast);
	p += nlast;
	memcpy(p, ".com", 5);
	return buf;
}

START_TEST(test_valid_limit_email)
{
	char	 buf[512], *p;

	/* Local part: 64 bytes, not 65. */
	p = fill(buf, 'a', 64);
	memcpy(p + 64, "@example.com", 13);
	ck_assert(valid_email(buf));
	p = fill(buf, 'a', 65);
	memcpy(p + 65, "@example.com", 13);
	ck_assert(!valid_email(buf));

	/* Whole address: 254 bytes, not 255 (every label still valid). */
	long_email(buf, 64, 57);
	ck_assert_uint_eq(strlen(buf), 254);
	ck_assert(valid_email(buf));
	long_email(buf, 64, 58);
	ck_assert_uint_eq(strlen(buf), 255);
	ck_assert(!valid_email(buf));
	long_email(buf, 63, 58);
	ck_assert_uint_eq(strlen(buf), 254);
	ck_assert(valid_email(buf));

	/* Label: 63 bytes, not 64. */
	memcpy(buf, "a@", 2);
	fill(buf + 2, 'b', 63);
	memcpy(buf + 65, ".com", 5);
	ck_assert(valid_email(buf));
	fill(buf + 2, 'b', 64);
	memcpy(buf + 66, ".com", 5);
	ck_assert(!valid_email(buf));

	/* TLD: two letters, not one; hyphen edges of a label. */
	ck_assert(valid_email("a@example.io"));
	ck_assert(!valid_email("a@example.i"));
	ck_assert(valid_email("a@e-x.com"));
	ck_assert(!valid_email("a@ex-.com"));
	ck_assert(valid_email("a@e.com"));
}
END_TEST

/* ----------------------------------------------------------------- url */

static const char *const good_url[] = {
	"http://example.com",
	"https://example.com/",
	"https://www.example.co.uk/path/to?q=1&r=2#frag",
	"http://localhost:8080/x",
	"HTTPS://EXAMPLE.COM",
	"Http://example.com",
	"http://[::1]:8080/",
	"http://[2001:db8::1]/",
	"http://192.168.0.1/",
	"https://example.com/a%20b",
	"https://example.com?x",
	"https://example.com#top",
	"https://example.com.",
	"https://my_host.example.com/",
	"https://example.com:443",
	"https://example.com/~user/(x)[y]{z}'*!$,;=",
};

static const char *const bad_url[] = {
	"",
	"example.com",
	"www.example.com",
	"ftp://example.com",
	"javascript:alert(1)",
	"mailto:a@example.com",
	"file:///etc/passwd",
	"http://",
	"https://",
	"http:///path",
	"http://?q",
	"http://#f",
	"http:/example.com",
	"http:example.com",
	"//example.com",
	"http://exa mple.com",
	"http://example.com/a b",
	"http://example.com/\t",
	"http://example.com/\x7f",
	"http://example.com/\x01",
	"http://example.com\n",
	" http://example.com",
	"http://example.com ",
	"http://:80/",
	"http://example.com:/",
	"http://example.com:abc/",
	"http://example.com:0/",
	"http://example.com:65536/",
	"http://example.com:123456/",
	"http://example.com:80:80/",
	"http://user:pass@example.com/",
	"http://example.com@evil.example/",
	"http://example..com/",
	"http://.example.com/",
	"http://exa%6dple.com/",
	"http://[]/",
	"http://[::1/",
	"http://[::1]x/",
	"http://[g::1]/",
	"http://example.com/\xc3\xa9",
	"http://\xc3\xa9xample.com/",
};

START_TEST(test_valid_ok_url)
{
	ck_assert_msg(valid_url(good_url[_i]), "\"%s\" refused",
	    good_url[_i]);
}
END_TEST

START_TEST(test_valid_bad_url)
{
	ck_assert_msg(!valid_url(bad_url[_i]), "\"%s\" accepted",
	    bad_url[_i]);
}
END_TEST

START_TEST(test_valid_limit_url)
{
	static const char	 base[] = "https://example.com/";
	char			 buf[2100];

	/* 2048 bytes, not 2049. */
	memcpy(buf, base, sizeof(base) - 1);
	fill(buf + sizeof(base) - 1, 'a', 2048 - (sizeof(base) - 1));
	ck_assert_uint_eq(strlen(buf), 2048);
	ck_assert(valid_url(buf));
	fill(buf + sizeof(base) - 1, 'a', 2049 - (sizeof(base) - 1));
	ck_assert(!valid_url(buf));

	/* Ports 1 to 65535. */
	ck_assert(!valid_url("http://example.com:0"));
	ck_assert(valid_url("http://example.com:1"));
	ck_assert(valid_url("http://example.com:65535"));
	ck_assert(!valid_url("http://example.com:65536"));
	ck_assert(valid_url("http://example.com:00080"));

	/* Host label of 63, not 64. */
	memcpy(buf, "http://", 7);
	fill(buf + 7, 'h', 63);
	ck_assert(valid_url(buf));
	fill(buf + 7, 'h', 64);
	ck_assert(!valid_url(buf));

	/* Shortest forms. */
	ck_assert(valid_url("http://a"));
	ck_assert(valid_url("http://[::]"));
}
END_TEST

/* --------------------------------------------------------- system name */

static const char *const good_sysname[] = {
	"salesforce",
	"d365",
	"legacy-crm",
	"a",
	"0",
	"x.y_z-1",
	"9lives",
	"crm.",
	"crm--",
};

static const char *const bad_sysname[] = {
	"",
	"Salesforce",
	"SALESFORCE",
	"-crm",
	".crm",
	"_crm",
	"legacy crm",
	"crm/",
	"crm:1",
	"crm@x",
	"\xc3\xa9",
	"crm\xc3\xa9",
	"crm\n",
	" crm",
	"crm ",
	"crm\t",
};

START_TEST(test_valid_ok_system_name)
{
	ck_assert_msg(valid_system_name(good_sysname[_i]), "\"%s\" refused",
	    good_sysname[_i]);
}
END_TEST

START_TEST(test_valid_bad_system_name)
{
	ck_assert_msg(!valid_system_name(bad_sysname[_i]), "\"%s\" accepted",
	    bad_sysname[_i]);
}
END_TEST

START_TEST(test_valid_limit_system_name)
{
	char	 buf[80];

	ck_assert(valid_system_name(fill(buf, 'a', 64)));
	ck_assert(!valid_system_name(fill(buf, 'a', 65)));
	ck_assert(valid_system_name(fill(buf, 'z', 1)));
	ck_assert(valid_system_name(fill(buf, '9', 1)));
	ck_assert(!valid_system_name(fill(buf, '-', 1)));
}
END_TEST

/* ---------------------------------------------------------- identifier */

static const char *const good_ident[] = {
	"0031x000002abcD",
	"00000000-0000-0000-0000-000000000000",
	"Zo\xc3\xab's record",
	"a",
	"a b",
	"CUST/2024/0001",
	"\xe6\x97\xa5\xe6\x9c\xac-42",
};

static const char *const bad_ident[] = {
	"",
	" ",
	"   ",
	"\xe3\x80\x80",				/* ideographic space */
	"a\tb",
	"a\nb",
	"a\rb",
	"abc\n",
	"a\x7f",
	"a\x01",
	"\x1b[0m",
	"\xc2\x85",				/* C1 NEL */
	"a\xc2\x9f",				/* C1 APC */
	"a\xc2\x80",
	"\xc0\xaf",
	"\xed\xa0\x80",
	"abc\xc3",
};

START_TEST(test_valid_ok_identifier)
{
	ck_assert_msg(valid_identifier(good_ident[_i]), "\"%s\" refused",
	    good_ident[_i]);
}
END_TEST

START_TEST(test_valid_bad_identifier)
{
	ck_assert_msg(!valid_identifier(bad_ident[_i]), "\"%s\" accepted",
	    bad_ident[_i]);
}
END_TEST

START_TEST(test_valid_limit_identifier)
{
	char	 buf[4 * 256 + 1];

	ck_assert(valid_identifier(fill(buf, 'x', 255)));
	ck_assert(!valid_identifier(fill(buf, 'x', 256)));
	/* Counted in code points: 510 and 1020 bytes still pass. */
	ck_assert(valid_identifier(repeat(buf, "\xc3\xa9", 255)));
	ck_assert(!valid_identifier(repeat(buf, "\xc3\xa9", 256)));
	ck_assert(valid_identifier(repeat(buf, "\xf0\x9d\x84\x9e", 255)));
	ck_assert(!valid_identifier(repeat(buf, "\xf0\x9d\x84\x9e", 256)));
	/* U+00A0 is not a control: only C0, DEL and C1 are refused. */
	ck_assert(valid_identifier("a\xc2\xa0" "b"));
	ck_assert(!valid_identifier("a\xc2\x9f" "b"));
}
END_TEST

/* ---------------------------------------------------------------- uuid */

static const char *const good_uuid[] = {
	"123e4567-e89b-12d3-a456-426614174000",
	"123E4567-E89B-12D3-A456-426614174000",
	"00000000-0000-0000-0000-000000000000",
	"ffffffff-ffff-ffff-ffff-ffffffffffff",
	"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
};

static const char *const bad_uuid[] = {
	"",
	"123e4567e89b12d3a456426614174000",
	"{123e4567-e89b-12d3-a456-426614174000}",
	"123e4567-e89b-12d3-a456-42661417400",
	"123e4567-e89b-12d3-a456-4266141740000",
	"123e4567-e89b-12d3-a456_426614174000",
	"g23e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a4564-26614174000",
	"123e456-7e89b-12d3-a456-426614174000",
	"urn:uuid:123e4567-e89b-12d3-a456-426614174000",
	" 123e4567-e89b-12d3-a456-426614174000",
	"123e4567-e89b-12d3-a456-426614174000 ",
	"123e4567-e89b-12d3-a456-426614174000\n",
	"123e4567-e89b-12d3-a456-42661417400\xc3\xa9",
	"------------------------------------",
};

START_TEST(test_valid_ok_uuid)
{
	ck_assert_msg(valid_uuid(good_uuid[_i]), "\"%s\" refused",
	    good_uuid[_i]);
}
END_TEST

START_TEST(test_valid_bad_uuid)
{
	ck_assert_msg(!valid_uuid(bad_uuid[_i]), "\"%s\" accepted",
	    bad_uuid[_i]);
}
END_TEST

/* ------------------------------------------------------------- rfc3339 */

#define T_20240615_123456	INT64_C(1718454896000000)

static const struct ts_case good_ts[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "1970-01-01t00:00:00z", 0 },
	{ "1970-01-01T00:00:00+00:00", 0 },
	{ "1970-01-01T00:00:00-00:00", 0 },
	{ "2024-06-15T12:34:56Z", T_20240615_123456 },
	{ "2024-06-15T12:34:56.789Z", T_20240615_123456 + 789000 },
	{ "2024-06-15T12:34:56.1Z", T_20240615_123456 + 100000 },
	{ "2024-06-15T12:34:56.000001Z", T_20240615_123456 + 1 },
	{ "2024-06-15T12:34:56.123456Z", T_20240615_123456 + 123456 },
	{ "2024-06-15T12:34:56.123456789Z", T_20240615_123456 + 123456 },
	{ "2024-06-15T14:34:56+02:00", T_20240615_123456 },
	{ "2024-06-15T07:04:56-05:30", T_20240615_123456 },
	{ "2024-06-16T00:04:56+11:30", T_20240615_123456 },
	{ "2024-06-15T12:34:56.5+00:00", T_20240615_123456 + 500000 },
	{ "1969-12-31T23:59:59.999999Z", -1 },
	{ "1969-12-31T23:59:59.5Z", -500000 },
	{ "2000-02-29T00:00:00Z", INT64_C(951782400000000) },
	{ "0000-01-01T00:00:00Z", INT64_C(-62167219200000000) },
	{ "9999-12-31T23:59:59.999999Z", INT64_C(253402300799999999) },
	{ "2016-12-31T23:59:60Z", INT64_C(1483228800000000) },
	{ "1970-01-01T00:00:00+23:59", INT64_C(-86340000000) },
	{ "1970-01-01T00:00:00-23:59", INT64_C(86340000000) },
};

static const char *const bad_ts[] = {
	"",
	"2024-06-15",
	"2024-06-15T",
	"2024-06-15T12:34Z",
	"2024-06-15 12:34:56Z",
	"2024-06-15_12:34:56Z",
	"2024-06-15T12:34:56",
	"2024-06-15T24:00:00Z",
	"2024-06-15T12:60:00Z",
	"2024-06-15T12:34:61Z",
	"2024-02-30T00:00:00Z",
	"2023-02-29T00:00:00Z",
	"2024-13-01T00:00:00Z",
	"2024-06-15T12:34:56.Z",
	"2024-06-15T12:34:56,5Z",
	"2024-06-15T12:34:56+0200",
	"2024-06-15T12:34:56+02",
	"2024-06-15T12:34:56+2:00",
	"2024-06-15T12:34:56+24:00",
	"2024-06-15T12:34:56+02:60",
	"2024-06-15T12:34:56ZZ",
	"2024-06-15T12:34:56Z ",
	" 2024-06-15T12:34:56Z",
	"2024-06-15T12:34:56Z\n",
	"2024-6-15T12:34:56Z",
	"2024-06-15T1:34:56Z",
	"2024-06-15T12:34:56.1a Z",
	"2024-06-15T12:34:56.1aZ",
	"2024-06-15T12:34:56 Z",
	"2024-06-15T12:34:56UTC",
	"2024-06-15T12:34:56GMT",
	"20240615T123456Z",
	"12345-06-15T12:34:56Z",
	"1718454896",
	"2024-06-15T12:34:56.123456789",
	"2024-06-15T12:34:56+",
	"2024-06-15T12:34:56+02:0",
};

START_TEST(test_valid_ok_rfc3339)
{
	int64_t	 us = 42;

	ck_assert_msg(valid_rfc3339(good_ts[_i].s, &us), "\"%s\" refused",
	    good_ts[_i].s);
	ck_assert_msg(us == good_ts[_i].us, "\"%s\" gave %jd, not %jd",
	    good_ts[_i].s, (intmax_t)us, (intmax_t)good_ts[_i].us);
	ck_assert(valid_rfc3339(good_ts[_i].s, NULL));
}
END_TEST

START_TEST(test_valid_bad_rfc3339)
{
	int64_t	 us = 42;

	ck_assert_msg(!valid_rfc3339(bad_ts[_i], &us), "\"%s\" accepted",
	    bad_ts[_i]);
	ck_assert_msg(us == 42, "\"%s\" wrote the output", bad_ts[_i]);
	ck_assert(!valid_rfc3339(bad_ts[_i], NULL));
}
END_TEST

START_TEST(test_valid_limit_rfc3339)
{
	int64_t	 us;

	/* Clock fields: the last value in, the first out. */
	ck_assert(valid_rfc3339("2024-06-15T23:59:59Z", NULL));
	ck_assert(!valid_rfc3339("2024-06-15T24:59:59Z", NULL));
	ck_assert(valid_rfc3339("2024-06-15T00:59:00Z", NULL));
	ck_assert(!valid_rfc3339("2024-06-15T00:60:00Z", NULL));
	ck_assert(valid_rfc3339("2024-06-15T00:00:60Z", NULL));
	ck_assert(!valid_rfc3339("2024-06-15T00:00:61Z", NULL));
	ck_assert(valid_rfc3339("2024-06-15T00:00:00+23:59", NULL));
	ck_assert(!valid_rfc3339("2024-06-15T00:00:00+24:00", NULL));
	ck_assert(!valid_rfc3339("2024-06-15T00:00:00+23:60", NULL));

	/* Fraction: six digits count, the seventh is dropped. */
	ck_assert(valid_rfc3339("1970-01-01T00:00:00.999999Z", &us));
	ck_assert_int_eq(us, 999999);
	ck_assert(valid_rfc3339("1970-01-01T00:00:00.9999999Z", &us));
	ck_assert_int_eq(us, 999999);
	ck_assert(valid_rfc3339(
	    "1970-01-01T00:00:00.00000099999999999999999999Z", &us));
	ck_assert_int_eq(us, 0);

	/* Year range 0000-9999 (wider than valid_date's). */
	ck_assert(valid_rfc3339("0000-01-01T00:00:00Z", NULL));
	ck_assert(valid_rfc3339("9999-12-31T23:59:59Z", NULL));
	ck_assert(!valid_rfc3339("10000-01-01T00:00:00Z", NULL));

	/* The offset moves the instant across the date line. */
	ck_assert(valid_rfc3339("2024-06-15T00:00:00+00:01", &us));
	ck_assert_int_eq(us, (int64_t)NOW_20240615 * 1000000 - 60000000);
}
END_TEST

/* ---------------------------------------------------------------- NULL */

START_TEST(test_valid_bad_null)
{
	int64_t	 us = 42;

	ck_assert(!valid_utf8(NULL, 0));
	ck_assert(!valid_text(NULL, 0, 10));
	ck_assert(!valid_e164(NULL));
	ck_assert(!valid_country(NULL));
	ck_assert(!valid_date(NULL));
	ck_assert(!valid_date_not_future(NULL, NOW_20240615));
	ck_assert(!valid_email(NULL));
	ck_assert(!valid_url(NULL));
	ck_assert(!valid_system_name(NULL));
	ck_assert(!valid_identifier(NULL));
	ck_assert(!valid_uuid(NULL));
	ck_assert(!valid_rfc3339(NULL, &us));
	ck_assert_int_eq(us, 42);
}
END_TEST

/*
 * Returns the "valid" suite; free it with the SRunner that runs it.
 */
Suite *
make_valid_suite(void)
{
	Suite	*s = suite_create("valid");
	TCase	*tc;

	tc = tcase_create("valid");
	tcase_add_loop_test(tc, test_valid_ok_utf8, 0, NELEM(good_utf8));
	tcase_add_test(tc, test_valid_utf8_chars);
	tcase_add_loop_test(tc, test_valid_ok_text, 0, NELEM(good_text));
	tcase_add_loop_test(tc, test_valid_ok_e164, 0, NELEM(good_e164));
	tcase_add_loop_test(tc, test_valid_ok_country, 0,
	    NELEM(good_country));
	tcase_add_loop_test(tc, test_valid_ok_date, 0, NELEM(good_date));
	tcase_add_loop_test(tc, test_valid_ok_date_not_future, 0,
	    NELEM(good_past));
	tcase_add_loop_test(tc, test_valid_ok_email, 0, NELEM(good_email));
	tcase_add_loop_test(tc, test_valid_ok_url, 0, NELEM(good_url));
	tcase_add_loop_test(tc, test_valid_ok_system_name, 0,
	    NELEM(good_sysname));
	tcase_add_loop_test(tc, test_valid_ok_identifier, 0,
	    NELEM(good_ident));
	tcase_add_loop_test(tc, test_valid_ok_uuid, 0, NELEM(good_uuid));
	tcase_add_loop_test(tc, test_valid_ok_rfc3339, 0, NELEM(good_ts));
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_loop_test(tc, test_valid_bad_utf8, 0, NELEM(bad_utf8));
	tcase_add_loop_test(tc, test_valid_bad_text, 0, NELEM(bad_text));
	tcase_add_loop_test(tc, test_valid_bad_e164, 0, NELEM(bad_e164));
	tcase_add_loop_test(tc, test_valid_bad_country, 0,
	    NELEM(bad_country));
	tcase_add_loop_test(tc, test_valid_bad_date, 0, NELEM(bad_date));
	tcase_add_loop_test(tc, test_valid_bad_date_future, 0,
	    NELEM(bad_past));
	tcase_add_loop_test(tc, test_valid_bad_email, 0, NELEM(bad_email));
	tcase_add_loop_test(tc, test_valid_bad_url, 0, NELEM(bad_url));
	tcase_add_loop_test(tc, test_valid_bad_system_name, 0,
	    NELEM(bad_sysname));
	tcase_add_loop_test(tc, test_valid_bad_identifier, 0,
	    NELEM(bad_ident));
	tcase_add_loop_test(tc, test_valid_bad_uuid, 0, NELEM(bad_uuid));
	tcase_add_loop_test(tc, test_valid_bad_rfc3339, 0, NELEM(bad_ts));
	tcase_add_test(tc, test_valid_bad_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_valid_limit_utf8);
	tcase_add_test(tc, test_valid_limit_text);
	tcase_add_test(tc, test_valid_limit_e164);
	tcase_add_test(tc, test_valid_limit_country);
	tcase_add_test(tc, test_valid_limit_date);
	tcase_add_test(tc, test_valid_limit_email);
	tcase_add_test(tc, test_valid_limit_url);
	tcase_add_test(tc, test_valid_limit_system_name);
	tcase_add_test(tc, test_valid_limit_identifier);
	tcase_add_test(tc, test_valid_limit_rfc3339);
	suite_add_tcase(s, tc);

	return s;
}
