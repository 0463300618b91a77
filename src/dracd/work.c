/*
 * work.c - worker threads ("dracd-work") with a bounded queue in and a
 * completion queue out.
 *
 * Threading: one mutex guards both queues and the count of jobs out; the
 * workers wait on a condition variable for jobs, and tell the owner that
 * jobs are done through an eventfd, written under the mutex so that its
 * count and the done queue agree: work_done empties the eventfd when it
 * takes the last done job, and a job done later writes it again.
 * Ownership: a job is the owner's until work_put, the pool's until
 * work_done hands it back; work_stop releases those it still holds.
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "work.h"

struct queue {
	struct work_job *head, *tail;
};

struct work {
	pthread_mutex_t lock;
	pthread_cond_t cv;		/* a job waits, or stopping */
	struct queue todo, done;
	size_t out, max;		/* jobs put and not yet collected */
	int stopping;
	int efd;			/* readable while done jobs wait */
	work_fn fn;
	void *arg;
	pthread_t *thr;
	int nthr;
};

/* q_push - append j */
static void
q_push(struct queue *q, struct work_job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

/* q_pop - the first job, or NULL */
static struct work_job *
q_pop(struct queue *q)
{
	struct work_job *j = q->head;

	if (j != NULL && (q->head = j->next) == NULL)
		q->tail = NULL;
	return j;
}

/* q_release - hand every job left to release */
static void
q_release(struct queue *q, void (*release)(struct work_job *))
{
	struct work_job *j;

	while ((j = q_pop(q)) != NULL)
		release(j);
}

/* worker - run jobs until stopped */
static void *
worker(void *arg)
{
	struct work *w = arg;
	struct work_job *j;
	uint64_t one = 1;

	pthread_setname_np(pthread_self(), "dracd-work");
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->stopping && w->todo.head == NULL)
			pthread_cond_wait(&w->cv, &w->lock);
		if (w->stopping)
			break;
		j = q_pop(&w->todo);
		pthread_mutex_unlock(&w->lock);
		w->fn(w->arg, j);
		pthread_mutex_lock(&w->lock);
		q_push(&w->done, j);
		if (write(w->efd, &one, sizeof(one)) < 0)
			log_warn("work: eventfd");
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* work_start - threads workers running fn over at most max jobs at once */
struct work *
work_start(int threads, size_t max, work_fn fn, void *arg)
{
	struct work *w;

	if (threads < 1 || max < 1 || (w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->max = max;
	w->fn = fn;
	w->arg = arg;
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	w->thr = calloc((size_t)threads, sizeof(*w->thr));
	if (w->efd < 0 || w->thr == NULL ||
	    pthread_mutex_init(&w->lock, NULL) != 0 ||
	    pthread_cond_init(&w->cv, NULL) != 0) {
		if (w->efd >= 0)
			close(w->efd);
		free(w->thr);
		free(w);
		return NULL;
	}
	for (; w->nthr < threads; w->nthr++)
		if (pthread_create(&w->thr[w->nthr], NULL, worker, w) != 0) {
			work_stop(w, NULL);	/* no job was put */
			return NULL;
		}
	return w;
}

/* work_put - hand j to a worker; -1 (j still the caller's) when max are
 * out */
int
work_put(struct work *w, struct work_job *j)
{
	int rc = -1;

	pthread_mutex_lock(&w->lock);
	if (w->out < w->max) {
		w->out++;
		q_push(&w->todo, j);
		pthread_cond_signal(&w->cv);
		rc = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return rc;
}

/* work_done - the next job run, now the caller's again; NULL when none */
struct work_job *
work_done(struct work *w)
{
	struct work_job *j;
	uint64_t n;

	pthread_mutex_lock(&w->lock);
	if ((j = q_pop(&w->done)) != NULL)
		w->out--;
	if (w->done.head == NULL && read(w->efd, &n, sizeof(n)) < 0 &&
	    errno != EAGAIN)
		log_warn("work: eventfd");
	pthread_mutex_unlock(&w->lock);
	return j;
}

/* work_fd - readable while run jobs wait for work_done */
int
work_fd(const struct work *w)
{
	return w->efd;
}

/* work_stop - let the running jobs finish, join, release what is left */
void
work_stop(struct work *w, void (*release)(struct work_job *))
{
	int i;

	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthr; i++)
		pthread_join(w->thr[i], NULL);
	q_release(&w->todo, release);
	q_release(&w->done, release);
	close(w->efd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->lock);
	free(w->thr);
	free(w);
}
