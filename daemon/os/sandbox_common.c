/*
 * sandbox_common.c: what confining the engine means on every platform
 * (sandbox.h): its user is not root's, and its new root is an empty
 * directory no one but root can write; the platform files do the rest.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "sandbox.h"
#include "util.h"

int
sandbox_check_root(const char *root, char *err, size_t errlen)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	if ((fd = open(root,
	         O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		errfmt(err, errlen, errno, "engine root %s", root);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		errfmt(err, errlen, errno, "engine root %s", root);
		close(fd);
		return -1;
	}
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		errfmt(err, errlen, 0,
		    "engine root %s: owned by uid %u, mode %04o: must be root's and writable by no one else",
		    root, (unsigned int)st.st_uid,
		    (unsigned int)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if ((d = fdopendir(fd)) == NULL) {
		errfmt(err, errlen, errno, "engine root %s", root);
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			errfmt(err, errlen, 0, "engine root %s: not empty (%s)",
			    root, de->d_name);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
sandbox_user(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		errfmt(err, errlen, errno, "engine user %s: %s", user,
		    errno == 0 ? "no such user" : "getpwnam");
		return -1;
	}
	if (pw->pw_uid == 0 || pw->pw_gid == 0) {
		errfmt(err, errlen, 0,
		    "engine user %s: uid %u gid %u: not root's", user,
		    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid);
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
sandbox_engine(const char *user, const char *root, char *err, size_t errlen)
{
	uid_t uid;
	gid_t gid;

	if (sandbox_user(user, &uid, &gid, err, errlen) == -1)
		return -1;
	return sandbox_engine_as(uid, gid, root, err, errlen);
}
