/*
 * Rolodex - rolodex-relay: command line, configuration, signals.
 *
 *   rolodex-relay [-nv] [-f config]
 *
 * -n checks the configuration and says "configuration OK".  Signal
 * handlers only set flags: SIGTERM and SIGINT stop after the batch in
 * hand, SIGHUP reopens the log file.  The loop is in relay.c.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "relay.h"

static volatile sig_atomic_t	 relay_stop;
static volatile sig_atomic_t	 relay_hup;

static void
on_term(int sig)
{
	(void)sig;
	relay_stop = 1;
}

static void
on_hup(int sig)
{
	(void)sig;
	relay_hup = 1;
}

static void
signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
usage(void)
{
	fprintf(stderr, "usage: rolodex-relay [-nv] [-f config]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct conf	 conf;
	struct relay	 r;
	const char	*cfile = NULL;
	char		 err[512];
	int		 ch, check_only = 0, verbose = 0, rc;

	log_init("rolodex-relay", 0);
	while ((ch = getopt(argc, argv, "f:nv")) != -1) {
		switch (ch) {
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(&conf, cfile, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	if (check_only) {
		fprintf(stderr, "configuration OK\n");
		conf_clear(&conf);
		return 0;
	}
	log_set_verbose(verbose || conf.log_verbose);
	if (log_reopen(conf.log_file) == -1)
		fatal("log file %s", conf.log_file);
	signals();
	relay_init(&r, &conf);
	rc = relay_run(&r, &relay_stop, &relay_hup);
	relay_clear(&r);
	conf_clear(&conf);
	return rc;
}
