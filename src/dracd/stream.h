/*
 * stream.h - the connection-oriented servers: RPC over TCP, the Postfix
 * policy service and the socketmap service.
 *
 * One thread owns every listener and connection.  A protocol only parses:
 * stream hands it the bytes that arrived, it consumes whole requests and
 * queues replies with stream_reply.  stream bounds each request
 * (the protocol's maxreq, and a deadline from its first byte), closes a
 * connection from a peer the protocol does not admit before reading a
 * byte, caps the connections of each service and of each source, closes
 * idle ones, and stops reading from a peer that does not read its replies.
 *
 * A protocol that hands a request to another thread holds the connection
 * (stream_hold: nothing more is read or consumed from it, and it does not
 * time out); the answer comes back through opts' wakefd, on which stream
 * runs wake in its own thread, which finds the connection by its id (it
 * may be gone), queues the reply and releases it (stream_release).
 */
#ifndef DRACD_STREAM_H
#define DRACD_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

struct stream_conn;
struct stream_loop;		/* the running loop, as wake sees it */

struct stream_proto {
	const char *name;
	size_t maxreq;		/* largest request, framing included */
	/* Consume whole requests from in; the bytes used, 0 when no whole
	 * request is there yet, -1 to close the connection. */
	ssize_t (*consume)(void *ctx, struct stream_conn *, const uint8_t *in,
	    size_t len);
	/* May peer use the service at all?  1 yes, 0 close the connection
	 * at once (no byte is read).  NULL: everyone may. */
	int (*admit)(void *ctx, const struct addr *peer);
};

struct stream_listener {
	int fd;
	const struct stream_proto *proto;
	void *ctx;
};

/* Listeners with the same proto form one service: each service has its
 * own max_connections, so one cannot starve another. */
struct stream_opts {
	int max_connections;	/* per service */
	int max_per_source;	/* per service and peer (IPv6: per /64) */
	int64_t request_timeout_ms;	/* a request, first byte to reply sent */
	int64_t idle_timeout_ms;	/* between requests */
	int stopfd;		/* readable once the server stops */
	int wakefd;		/* -1, or readable when wake has work */
	void (*wake)(void *arg, struct stream_loop *);
	void *wakearg;
};

const struct addr *stream_peer(const struct stream_conn *);
int stream_reply(struct stream_conn *, const void *, size_t);
uint64_t stream_id(const struct stream_conn *);
void stream_hold(struct stream_conn *);
void stream_release(struct stream_conn *);
void stream_drop(struct stream_conn *);
struct stream_conn *stream_find(struct stream_loop *, uint64_t id);
int stream_run(const struct stream_opts *, const struct stream_listener *,
    size_t n);
int stream_listen(const char *spec, int *fd, char *err, size_t errlen);
int stream_spec_check(const char *spec, char *err, size_t errlen);
uint64_t stream_open_connections(void);

#endif
