/*
 * Rolodex - logging (see log.h).
 *
 * Records are formatted into a bounded buffer, escaped, and written with a
 * single write(2) so concurrent workers sharing stderr do not interleave
 * within a line.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

static char	 log_prog[32] = "rolodex";
static char	 log_reqid[40];
static int	 log_verbose;

void
log_init(const char *prog, int verbose)
{
	snprintf(log_prog, sizeof(log_prog), "%s", prog);
	log_verbose = verbose;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

void
log_set_verbose(int v)
{
	log_verbose = v;
}

void
log_set_reqid(const char *id)
{
	if (id == NULL)
		log_reqid[0] = '\0';
	else
		snprintf(log_reqid, sizeof(log_reqid), "%s", id);
}

int
log_reopen(const char *path)
{
	int	 fd;

	if (path == NULL || *path == '\0')
		return 0;
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	    0640)) == -1)
		return -1;
	if (dup2(fd, STDERR_FILENO) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Copy src into dst escaping bytes outside printable ASCII as \xNN. */
static size_t
log_escape(char *dst, size_t dsz, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t		 o = 0;
	unsigned char	 c;

	for (; *src != '\0' && o + 5 < dsz; src++) {
		c = (unsigned char)*src;
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		if (c == '\\') {
			dst[o++] = '\\';
			continue;
		}
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 0xf];
	}
	dst[o] = '\0';
	return o;
}

static void
log_vemit(const char *level, int errnum, const char *fmt, va_list ap)
{
	char		 msg[LOG_LINE_MAX], esc[LOG_LINE_MAX], line[LOG_LINE_MAX + 256];
	struct timespec	 ts;
	struct tm	 tm;
	int		 n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_escape(esc, sizeof(esc), msg);
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s[%ld]%s%s %s%s%s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level, log_prog,
	    (long)getpid(), log_reqid[0] != '\0' ? " req=" : "", log_reqid,
	    esc, errnum != 0 ? ": " : "", errnum != 0 ? strerror(errnum) : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write per record; a short write to stderr is not retried. */
	if (write(STDERR_FILENO, line, (size_t)n) == -1)
		return;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	log_vemit("warn", e, fmt, ap);
	va_end(ap);
	errno = e;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit("warn", 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit("info", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vemit("debug", 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 e = errno;

	va_start(ap, fmt);
	log_vemit("fatal", e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit("fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
