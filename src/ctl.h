/*
 * Rolodex - rolodexctl, the operator's tool: shared declarations.
 */
#ifndef ROLODEX_CTL_H
#define ROLODEX_CTL_H

#include "conf.h"

struct db;

struct ctl {
	struct conf	 conf;
	struct db	*db;		/* opened on first use */
};

/* The database handle, connected (exits on failure). */
struct db	*ctl_db(struct ctl *, int migrate_user);
/* Value of "--name value" in argv, or NULL. */
const char	*ctl_opt(int argc, char **argv, const char *name);
int		 ctl_has(int argc, char **argv, const char *name);

int		 ctl_user(struct ctl *, int argc, char **argv);
int		 ctl_client(struct ctl *, int argc, char **argv);
int		 ctl_token(struct ctl *, int argc, char **argv);
/* ctl_outbox.c: outbox status, resync */
int		 ctl_outbox(struct ctl *, int argc, char **argv);
int		 ctl_resync(struct ctl *, int argc, char **argv);
/* ctl_dlq.c: dead letters and adapter status */
int		 ctl_dlq(struct ctl *, int argc, char **argv);
int		 ctl_adapter(struct ctl *, int argc, char **argv);

#endif
