/*
 * fuzz_conf.c: libFuzzer target for the configuration parser
 * (daemon/conf.c).
 *
 * conf_load() reads a path, so the input is written to a memfd and read
 * back through /proc/self/fd/N: no file on disk, and the same fopen(),
 * getc() and fseek() the daemon runs.  The properties are the ones
 * conf.c promises:
 * - an error message names the problem without writing a control or
 *   non-ASCII byte to the operator's terminal;
 * - a file is applied all or nothing: after an error the configuration
 *   is what it was, bit for bit (the lists' pointers included);
 * - conf_dump() of a loaded configuration is a configuration file that
 *   loads to the same dump;
 * - each line of the input given to conf_set() (as -o would) either
 *   applies or leaves the configuration as it was, bit for bit.
 * A broken property aborts.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/*
 * conf_defaults() takes the device and the deadlines from the host
 * backend linked with it; this harness links none (a backend needs the
 * event loop and the log): Linux's device, and conf.c's deadlines.
 */
void
host_conf_defaults(struct conf *c)
{
	strcpy(c->device, "/dev/vmbus/hv_vss");
	c->app_device[0] = '\0';
}

static int in_fd = -1, dump_fd = -1;
static char in_path[64], dump_path[64];

static void
check(int cond)
{
	if (!cond)
		abort();
}

static int
memfd(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd == -1)
		abort();
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

static void
put(int fd, const void *data, size_t size)
{
	if (ftruncate(fd, 0) == -1 ||
	    (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size))
		abort();
}

/* conf_dump() into a malloc'd string. */
static char *
dump(const struct conf *c, size_t *len)
{
	char *s = NULL;
	FILE *f;

	if ((f = open_memstream(&s, len)) == NULL)
		abort();
	conf_dump(c, f);
	if (fclose(f) != 0)
		abort();
	return s;
}

/* Printable ASCII only, and terminated within its buffer. */
static void
check_message(const char *err, size_t len)
{
	size_t i;

	check(memchr(err, '\0', len) != NULL);
	for (i = 0; err[i] != '\0'; i++)
		check(err[i] >= 0x20 && err[i] <= 0x7e);
}

/* The dump of c loads, from the defaults, to the same dump. */
static void
check_dump_reloads(const struct conf *c)
{
	struct conf c2;
	char err[512], *d1, *d2;
	size_t n1, n2;

	d1 = dump(c, &n1);
	put(dump_fd, d1, n1);
	conf_defaults(&c2);
	if (conf_load(&c2, dump_path, true, err, sizeof(err)) != 0) {
		fprintf(
		    stderr, "dump does not load: %s\n---\n%s---\n", err, d1);
		abort();
	}
	d2 = dump(&c2, &n2);
	if (n1 != n2 || memcmp(d1, d2, n1) != 0) {
		fprintf(stderr, "dump reloads differently:\n%s---\n%s---\n", d1,
		    d2);
		abort();
	}
	conf_clear(&c2);
	free(d1);
	free(d2);
}

static void
fuzz_load(const uint8_t *data, size_t size)
{
	static struct conf c, before;
	char err[512];

	put(in_fd, data, size);
	conf_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	err[0] = '\0';
	if (conf_load(&c, in_path, true, err, sizeof(err)) == 0) {
		check_dump_reloads(&c);
	} else {
		check_message(err, sizeof(err));
		check(err[0] != '\0');
		check(memcmp(&before, &c, sizeof(c)) == 0);
	}
	conf_clear(&c);
}

static void
fuzz_set(const uint8_t *data, size_t size)
{
	static struct conf c, before;
	char err[512], *line, *p, *nl;

	if ((line = malloc(size + 1)) == NULL)
		return;
	memcpy(line, data, size);
	line[size] = '\0';
	conf_defaults(&c);
	for (p = line; p != NULL; p = nl) {
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		memcpy(&before, &c, sizeof(c));
		err[0] = '\0';
		if (conf_set(&c, p, err, sizeof(err)) != 0) {
			check_message(err, sizeof(err));
			check(err[0] != '\0');
			check(memcmp(&before, &c, sizeof(c)) == 0);
		}
	}
	conf_clear(&c);
	free(line);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (in_fd == -1) {
		in_fd = memfd("fuzz_conf", in_path, sizeof(in_path));
		dump_fd = memfd("fuzz_conf_dump", dump_path, sizeof(dump_path));
	}
	fuzz_load(data, size);
	fuzz_set(data, size);
	return 0;
}
