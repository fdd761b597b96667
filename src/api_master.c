/*
 * Rolodex - the standalone pre-forking master (rolodex-api --listen).
 *
 * The master opens the listening socket, forks N workers that all accept
 * on it, and then only supervises: a worker that dies is replaced (with
 * a short pause if workers keep dying at once, so a broken configuration
 * does not spin), and SIGTERM is forwarded to every worker, which
 * finishes the request in hand and exits.  The master waits for them up
 * to a bounded drain time, then kills what is left.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define DRAIN_MS	30000

static volatile sig_atomic_t	 master_term;
static volatile sig_atomic_t	 master_hup;

static void
master_on_term(int sig)
{
	(void)sig;
	master_term = 1;
}

static void
master_on_hup(int sig)
{
	(void)sig;
	master_hup = 1;
}

static void
master_on_chld(int sig)
{
	(void)sig;
}

/* Open the listening socket: "unix:/path" or "host:port". */
static int
master_listen(const char *addr)
{
	const char	*path;
	int		 fd;

	if (strncmp(addr, "unix:", 5) == 0) {
		path = addr + 5;
		if (unlink(path) == -1 && errno != ENOENT)
			log_warn("unlink %s", path);
		fd = FCGX_OpenSocket(path, 128);
		/* The web server connects as another user. */
		if (fd >= 0 && chmod(path, 0666) == -1)
			log_warn("chmod %s", path);
	} else
		fd = FCGX_OpenSocket(addr, 128);
	return fd;
}

static pid_t
spawn_worker(struct api *api, int fd)
{
	pid_t	 pid;

	if ((pid = fork()) == -1) {
		log_warn("fork");
		return -1;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		api_worker_open(api);
		_exit(api_worker(api, fd));
	}
	return pid;
}

/* Forward sig to all live workers. */
static void
signal_workers(const pid_t *pids, int n, int sig)
{
	int	 i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			kill(pids[i], sig);
}

static int
live_workers(const pid_t *pids, int n)
{
	int	 i, live = 0;

	for (i = 0; i < n; i++)
		live += pids[i] > 0;
	return live;
}

/* Reap exited workers; returns how many died. */
static int
reap(pid_t *pids, int n)
{
	pid_t	 pid;
	int	 i, status, died = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < n; i++)
			if (pids[i] == pid)
				pids[i] = 0;
		died++;
		if (!master_term && WIFSIGNALED(status))
			log_warnx("worker %ld killed by signal %d", (long)pid,
			    WTERMSIG(status));
	}
	return died;
}

static void
drain(pid_t *pids, int n)
{
	int64_t	 deadline = time_mono_ms() + DRAIN_MS;

	log_info("draining %d workers", live_workers(pids, n));
	signal_workers(pids, n, SIGTERM);
	while (live_workers(pids, n) > 0 && time_mono_ms() < deadline) {
		reap(pids, n);
		sleep_ms(20, NULL);
	}
	if (live_workers(pids, n) > 0) {
		log_warnx("drain timed out; killing workers");
		signal_workers(pids, n, SIGKILL);
		while (live_workers(pids, n) > 0 && reap(pids, n) >= 0)
			sleep_ms(10, NULL);
	}
}

static void
master_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = master_on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = master_on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = master_on_chld;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int
api_master(struct api *api, const char *addr, int n)
{
	pid_t	*pids = xcalloc((size_t)n, sizeof(*pids));
	int	 fd, i;
	int64_t	 backoff = 0;

	if ((fd = master_listen(addr)) < 0)
		fatalx("cannot listen on %s", addr);
	master_signals();
	log_info("listening on %s with %d workers", addr, n);
	while (!master_term) {
		for (i = 0; i < n && !master_term; i++)
			if (pids[i] <= 0 && (pids[i] = spawn_worker(api, fd)) <
			    0)
				pids[i] = 0;
		/* Sleep until a signal; SIGCHLD wakes us. */
		sleep_ms(200, &master_term);
		if (master_hup) {
			master_hup = 0;
			if (log_reopen(api->conf.log_file) == -1)
				log_warn("reopen %s", api->conf.log_file);
			signal_workers(pids, n, SIGHUP);
		}
		if (reap(pids, n) >= n) {
			/* Every worker died at once: do not spin. */
			backoff = backoff == 0 ? 250 : backoff * 2;
			if (backoff > 5000)
				backoff = 5000;
			sleep_ms(backoff, &master_term);
		} else
			backoff = 0;
	}
	drain(pids, n);
	close(fd);
	if (strncmp(addr, "unix:", 5) == 0)
		unlink(addr + 5);
	free(pids);
	log_info("stopped");
	return 0;
}
