/*
 * work.h - a pool of worker threads for calls that may wait (on the
 * disk), so that the thread handing them over never does.
 *
 * The owner puts jobs (malloc'ed blobs, whose first member is a struct
 * work_job) and collects them back once run, from one thread, when the
 * fd of work_fd is readable.  At most max jobs are out at once, put and
 * not yet collected; work_put refuses more.  work_stop hands the jobs it
 * still holds to release.
 */
#ifndef DRACD_WORK_H
#define DRACD_WORK_H

#include <stddef.h>

struct work_job {
	struct work_job *next;
};

/* runs job in a worker thread; arg is work_start's */
typedef void (*work_fn)(void *arg, struct work_job *job);

struct work;

struct work *work_start(int threads, size_t max, work_fn, void *arg);
int work_put(struct work *, struct work_job *);
struct work_job *work_done(struct work *);
int work_fd(const struct work *);
void work_stop(struct work *, void (*release)(struct work_job *));

#endif
