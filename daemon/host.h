/*
 * host.h: the host channel, Linux's /dev/vmbus/hv_vss: open, REGISTER1
 * handshake, requests in, one reply each out.
 */
#ifndef HVVSS_HOST_H
#define HVVSS_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct hostchan;

struct host_callbacks {
	/* a request read from the device */
	void (*request)(uint8_t op, void *arg);
	/* the device failed or rejected a write: replies owed are void */
	void (*lost)(const char *why, bool rejected, void *arg);
	/* REGISTER1 answered: requests will come */
	void (*registered)(uint32_t version, void *arg);
};

struct hostchan *hostchan_new(
    struct event_base *, const char *, const struct host_callbacks *, void *);
void hostchan_free(struct hostchan *);
/* Open and register; on failure retry every second until it works. */
void hostchan_connect(struct hostchan *);
/* Close now (the kernel fails a transaction in flight; thaws nothing). */
void hostchan_close(struct hostchan *);
/* Write the reply to the current request; -errno, and lost() is called. */
int hostchan_reply(struct hostchan *, uint32_t);
bool hostchan_connected(const struct hostchan *);
void hostchan_set_device(struct hostchan *, const char *);

#endif /* HVVSS_HOST_H */
