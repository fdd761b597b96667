/*
 * Rolodex - logging.
 *
 * One line per record on stderr (line-buffered, so web servers and systemd
 * collect whole lines): "ts level prog[pid] req=<id> message".  Verbs follow
 * OpenBSD: log_warn appends strerror(errno), log_warnx does not, fatal and
 * fatalx log and exit(1).  Control characters and non-ASCII bytes in the
 * message are escaped, so text from clients or SaaS replies cannot forge
 * lines.  Nothing secret is ever passed to these functions.
 */
#ifndef ROLODEX_LOG_H
#define ROLODEX_LOG_H

#include <stdbool.h>

void	log_init(const char *prog, int verbose);
void	log_set_verbose(int);
void	log_set_reqid(const char *);	/* copied; NULL clears */
int	log_reopen(const char *path);	/* NULL or "" = stderr */
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
