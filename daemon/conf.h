/*
 * conf.h: hv_vss_daemon's configuration: /etc/hv_vss/hv_vss.conf (INI),
 * every key overridable on the command line with
 * -o key=value, every key with a documented default (hv_vss_daemon(8),
 * etc/hv_vss.conf).
 *
 * Keys live in one section, [daemon], each at most once in a file.
 * Lists are comma- or space-separated.
 */
#ifndef HVVSS_CONF_H
#define HVVSS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define CONF_PATH_DEFAULT "/etc/hv_vss/hv_vss.conf"
#define CONF_MAX_LIST 64 /* entries in mounts / exclude */
#define CONF_PATH_MAX 4096
#define CONF_LINE_MAX 198 /* bytes of a line of the file, without '\n' */

enum unfreezable_policy {
	UNFREEZABLE_SKIP, /* leave it out, say so in the plan and log */
	UNFREEZABLE_VETO, /* refuse the backup (HOT_BACKUP E_FAIL) */
};

struct conf {
	/* device = /dev/vmbus/hv_vss (FreeBSD: /dev/hv_fsvss_dev) */
	char device[CONF_PATH_MAX];
	/* app_device = (none; FreeBSD: /dev/hv_appvss_dev, empty: left
	 * to a legacy application) */
	char app_device[CONF_PATH_MAX];
	char run_dir[CONF_PATH_MAX]; /* run_dir = /run/hv_vss */
	char app_socket[CONF_PATH_MAX]; /* app_socket = /run/hv_vss/app.sock */
	mode_t app_socket_mode; /* app_socket_mode = 0600 */
	char app_socket_group[64]; /* app_socket_group = (none) */
	char hooks_dir[CONF_PATH_MAX]; /* hooks_dir = /etc/hv_vss/hooks.d */
	unsigned int app_max_clients; /* app_max_clients = 1024 */
	unsigned int app_max_per_uid; /* app_max_per_uid = 64, root free */
	char ctl_socket[CONF_PATH_MAX]; /* ctl_socket = /run/hv_vss/ctl.sock */
	char ctl_group[64]; /* ctl_group = (none): may read status */
	char metrics_file[CONF_PATH_MAX]; /* metrics_file = (none: off) */

	/* mounts = auto (nmounts 0: automatic plan); absolute mount points */
	char *mounts[CONF_MAX_LIST];
	size_t nmounts;
	/* exclude = paths (start with /) and filesystem types */
	char *exclude[CONF_MAX_LIST];
	size_t nexclude;
	enum unfreezable_policy unfreezable; /* unfreezable = skip */

	/* stage deadlines, milliseconds (config and -o take seconds) */
	unsigned int check_timeout_ms; /* check_timeout = 10 */
	unsigned int app_freeze_timeout_ms; /* app_freeze_timeout = 10 */
	unsigned int hook_timeout_ms; /* hook_timeout = 10, each hook */
	unsigned int hooks_tier; /* hooks_tier = 10: the freeze hooks run
	                            before this tier's apps (10: after all) */
	unsigned int fs_freeze_timeout_ms; /* fs_freeze_timeout = 60 */
	unsigned int thaw_timeout_ms; /* thaw_timeout = 20 */
	unsigned int max_frozen_ms; /* max_frozen = 60 */

	bool presync; /* presync = yes */
	/* expedite_freeze = yes: RCU grace periods expedited for FIFREEZE */
	bool expedite_freeze;
	bool privsep; /* privsep = yes: parent and engine */
	char privsep_user[64]; /* privsep_user = hvvss: the engine's */
	/* hot_backup_veto = ok: HOT_BACKUP always S_OK, the FREEZE fails */
	bool hot_backup_veto_ok;
	int debug; /* debug = 0 (-d) */
};

/* Fill c with the defaults above. */
void conf_defaults(struct conf *c);

/*
 * Read path into c (on top of what c holds).  On error returns -1 and
 * writes "FILE:LINE: key: what is wrong" into err.  A missing file is an
 * error only if required is true (an explicit -c).
 */
int conf_load(
    struct conf *c, const char *path, bool required, char *err, size_t errlen);

/*
 * Apply one "key=value" (from -o).  -1 and a message naming the key on
 * error.
 */
int conf_set(struct conf *c, const char *keyval, char *err, size_t errlen);
/* conf_load() of an open file (closed here), named path in errors. */
int conf_load_fp(
    struct conf *c, FILE *fp, const char *path, char *err, size_t errlen);

/*
 * What only a check of the system as it is now can say (-t): every
 * allow-listed mount point exists and is a directory.  -1 and a message
 * naming the key and the path if not.
 */
int conf_check_mounts(const struct conf *c, char *err, size_t errlen);

/* Release the lists. */
void conf_clear(struct conf *c);

/* Write every key with its value, in config file syntax (for -t / plan). */
void conf_dump(const struct conf *c, FILE *f);

#endif /* HVVSS_CONF_H */
