/*
 * Rolodex adapters - what both adapter programs do before and after the
 * consumer loop: options, configuration, logging, signals, libcurl.
 *
 * Signal handlers only set flags.  SIGTERM (and SIGINT) ask the loop to
 * stop after the batch in hand; every blocking call in the loop is
 * bounded, so the process exits within about [adapter] block_ms plus one
 * batch.  The exit status is 0 after a clean stop, 1 when the
 * configuration is unusable.
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "adapter.h"
#include "conf.h"
#include "log.h"

static volatile sig_atomic_t	 adapter_stop;
static volatile sig_atomic_t	 adapter_hup;

static void
on_signal(int sig)
{
	if (sig == SIGHUP)
		adapter_hup = 1;
	else
		adapter_stop = 1;
}

static void
adapter_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a sleep or a read returns early on SIGTERM. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-nv] [-c consumer] [-f config]\n", prog);
	exit(2);
}

int
adapter_main(int argc, char *argv[], const struct adapter_prog *p)
{
	struct conf		 c;
	struct backend		 be;
	struct adapter_opts	 o;
	const char		*cfile = NULL;
	char			 err[512];
	int			 ch, check = 0, verbose = 0, rc = 1;

	memset(&o, 0, sizeof(o));
	log_init(p->name, 0);
	while ((ch = getopt(argc, argv, "c:f:nv")) != -1) {
		switch (ch) {
		case 'c':
			o.consumer = optarg;
			break;
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage(p->name);
		}
	}
	if (argc != optind)
		usage(p->name);
	memset(&c, 0, sizeof(c));
	if (conf_load(&c, cfile, err, sizeof(err)) == -1 ||
	    conf_check(&c, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	log_set_verbose(verbose || c.log_verbose);
	if (*c.log_file != '\0' && log_reopen(c.log_file) == -1)
		fatal("%s", c.log_file);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	memset(&be, 0, sizeof(be));
	be.system = p->system;
	be.run = p->run;
	if ((be.ctx = p->init(&c, err, sizeof(err))) == NULL) {
		log_warnx("configuration: %s", err);
		goto out;
	}
	be.http = p->http(be.ctx);
	if (check) {
		printf("configuration OK\n");
		rc = 0;
		goto fini;
	}
	o.failpoint = getenv("ROLODEX_FAILPOINT");
	adapter_signals();
	o.hup = (volatile int *)&adapter_hup;
	rc = adapter_run(&c, &be, &o, (volatile int *)&adapter_stop) == -1 ?
	    1 : 0;
fini:
	p->fini(be.ctx);
out:
	curl_global_cleanup();
	conf_clear(&c);
	return rc;
}
