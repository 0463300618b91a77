/*
 * drac-logwatch - grant relaying from the login lines of POP and IMAP
 * servers that can be neither patched nor hooked.
 *
 * One thread: it follows log files (tail -F) or the systemd journal,
 * matches each line against the login patterns, and hands logins to the
 * sender, which adds them through libdrac.  Signals arrive through a
 * signalfd: TERM and INT save the state and stop, USR1 logs and saves the
 * counters, HUP saves the state.  Old logins are never replayed: a line
 * that was in a file at start counts only if it is younger than the
 * look-back.
 */
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "jsource.h"
#include "mono.h"
#include "pattern.h"
#include "sender.h"
#include "state.h"

#ifndef DRACD_VERSION
#define DRACD_VERSION "unknown"
#endif

#define LW_POLL_MS	200	/* how often files are looked at */
#define LW_SAVE_MS	5000	/* how often the state is saved */
#define LW_FOLD_S	5
#define LW_QUEUE	1000
#define LW_MAX_AGE_S	300
#define LW_TIMEOUT_S	1
#define LW_FILES	STATE_FILES
#define EX_ERR		2

struct watch {
	struct patterns *pats;
	struct sender *snd;
	drac_t *h;
	struct follow files[LW_FILES];
	size_t nfiles;
	struct jsource *journal;
	const char *state_path;
	time_t lookback;		/* catch-up lines younger count */
	int from_start;
	int sigfd;
	int64_t saved_ms;
};

struct args {
	const char *servers, *key, *formats, *state, *jdir;
	const char *regex[8];
	size_t nregex;
	struct drac_options dopt;
	struct sender_opts sopt;
	time_t lookback;
	int from_start, journal, stats;
};

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: drac-logwatch [-s host[:port][,...]] [-t seconds] "
	    "[-k keyfile] [--tcp] [--any]\n"
	    "         [-p format[,format...]] [-e regex] [--state file] "
	    "[--lookback seconds]\n"
	    "         [--from-start] [--ttl seconds] [--fold seconds] "
	    "[--queue n] [--max-age seconds]\n"
	    "         [--journal [--journal-dir dir]] [file ... | -]\n"
	    "       drac-logwatch --stats --state file\n"
	    "formats: %s (default: all)\n", patterns_format_names());
	exit(status);
}

/* number - a decimal within [lo, hi], or exit 2 naming the option */
static long
number(const char *opt, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		errx(EX_ERR, "%s: \"%s\" is not a number from %ld to %ld", opt,
		    s, lo, hi);
	return v;
}

/* option - one option into a; 0, or -1 if ch is not one of ours */
static int
option(struct args *a, int ch, const char *arg)
{
	switch (ch) {
	case 's': a->servers = arg; break;
	case 't': a->dopt.timeout_ms = (unsigned int)number("-t", arg, 1,
	    600) * 1000; break;
	case 'k': a->key = arg; break;
	case 'p': a->formats = arg; break;
	case 'e':
		if (a->nregex == sizeof(a->regex) / sizeof(a->regex[0]))
			errx(EX_ERR, "-e: at most %zu custom patterns",
			    a->nregex);
		a->regex[a->nregex++] = arg;
		break;
	case 'T': a->dopt.transport = DRAC_TCP; break;
	case 'S': a->state = arg; break;
	case 'L': a->lookback = number("--lookback", arg, 0, 86400); break;
	case 'F': a->from_start = 1; break;
	case 'l': a->sopt.ttl = (unsigned int)number("--ttl", arg, 0,
	    86400 * 7); break;
	case 'f': a->sopt.fold_ms = number("--fold", arg, 0, 3600) * 1000;
		break;
	case 'q': a->sopt.queue_max = (unsigned int)number("--queue", arg, 1,
	    1000000); break;
	case 'a': a->sopt.max_age_ms = number("--max-age", arg, 1, 86400) *
	    1000; break;
	case 'J': a->journal = 1; break;
	case 'D': a->jdir = arg; break;
	case 'X': a->stats = 1; break;
	case 'Y': a->sopt.any = 1; break;
	default: return -1;
	}
	return 0;
}

/* parse_args - the command line; optind is left at the first file */
static void
parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{"server", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"key", required_argument, NULL, 'k'},
		{"tcp", no_argument, NULL, 'T'},
		{"state", required_argument, NULL, 'S'},
		{"lookback", required_argument, NULL, 'L'},
		{"from-start", no_argument, NULL, 'F'},
		{"ttl", required_argument, NULL, 'l'},
		{"fold", required_argument, NULL, 'f'},
		{"queue", required_argument, NULL, 'q'},
		{"max-age", required_argument, NULL, 'a'},
		{"journal", no_argument, NULL, 'J'},
		{"journal-dir", required_argument, NULL, 'D'},
		{"stats", no_argument, NULL, 'X'},
		{"any", no_argument, NULL, 'Y'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->dopt.timeout_ms = LW_TIMEOUT_S * 1000;
	a->sopt.fold_ms = LW_FOLD_S * 1000;
	a->sopt.queue_max = LW_QUEUE;
	a->sopt.max_age_ms = LW_MAX_AGE_S * 1000;
	while ((ch = getopt_long(argc, argv, "s:t:k:p:e:hV", opts, NULL)) !=
	    -1) {
		if (ch == 'h')
			usage(0);
		if (ch == 'V') {
			printf("drac-logwatch %s\n", DRACD_VERSION);
			exit(0);
		}
		if (option(a, ch, optarg) < 0)
			usage(EX_ERR);
	}
	if (a->servers == NULL && (a->servers = getenv("DRAC_SERVER")) ==
	    NULL)
		a->servers = "localhost";
	a->dopt.add_key_file = a->key;
}

/* build_patterns - the formats asked for, or all; exits on a bad one */
static struct patterns *
build_patterns(const struct args *a)
{
	struct patterns *ps = patterns_new();
	char err[256], list[256], *tok, *save = NULL;
	size_t i;

	if (ps == NULL)
		errx(EX_ERR, "out of memory");
	if (a->formats != NULL) {
		if (strlen(a->formats) >= sizeof(list))
			errx(EX_ERR, "-p: list too long");
		strcpy(list, a->formats);
		for (tok = strtok_r(list, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save))
			if (patterns_add_format(ps, tok, err, sizeof(err)) < 0)
				errx(EX_ERR, "-p: %s", err);
	} else if (a->nregex == 0 && patterns_add_all(ps) < 0)
		errx(EX_ERR, "the built-in patterns do not compile");
	for (i = 0; i < a->nregex; i++)
		if (patterns_add_regex(ps, a->regex[i], err, sizeof(err)) < 0)
			errx(EX_ERR, "-e \"%s\": %s", a->regex[i], err);
	return ps;
}

/* handle - one line from any source; when < 0: take it from the line */
static void
handle(struct watch *w, const char *line, int catchup, time_t when)
{
	struct sender_stats *st = sender_stats(w->snd);
	struct login l;

	st->lines++;
	if (!patterns_match(w->pats, line, &l))
		return;
	st->matched++;
	if (catchup && !w->from_start) {
		time_t now = time(NULL);

		if (when < 0)
			when = line_time(line, now);
		if (when < 0 || when < now - w->lookback || w->lookback == 0) {
			st->old++;	/* logged before we started */
			return;
		}
	}
	sender_submit(w->snd, &l, mono_ms());
}

/* file_line - follow_line_fn for log files */
static void
file_line(void *arg, const char *line, int catchup)
{
	handle(arg, line, catchup, -1);
}

/* journal_line - jsource_line_fn for the journal */
static void
journal_line(void *arg, const char *line, int catchup, time_t when)
{
	handle(arg, line, catchup, when);
}

/* save - write the state file, if there is one */
static void
save(struct watch *w)
{
	static struct state st;
	size_t i;

	w->saved_ms = mono_ms();
	if (w->state_path == NULL)
		return;
	memset(&st, 0, sizeof(st));
	st.pid = getpid();
	state_stats_text(sender_stats(w->snd), st.stats, sizeof(st.stats));
	for (i = 0; i < w->nfiles; i++) {
		if (w->files[i].is_stdin || w->files[i].fd < 0)
			continue;
		strcpy(st.files[st.nfiles].path, w->files[i].path);
		st.files[st.nfiles++].pos = w->files[i].pos;
	}
	if (w->journal != NULL)
		snprintf(st.cursor, sizeof(st.cursor), "%s",
		    jsource_cursor(w->journal));
	if (state_save(w->state_path, &st) < 0)
		warn("cannot save the state in %s", w->state_path);
}

/* open_sources - every file (or the journal), resuming from the state */
static void
open_sources(struct watch *w, const struct args *a, char **files, int n)
{
	static struct state st;
	char why[256];
	int i;

	if (a->state != NULL && state_load(a->state, &st) < 0)
		err(EX_ERR, "%s", a->state);
	if (a->journal) {
		if (jsource_open(&w->journal, a->jdir, st.cursor,
		    a->from_start, why, sizeof(why)) < 0)
			errx(EX_ERR, "%s", why);
		return;
	}
	if (n == 0)
		errx(EX_ERR, "no log file named (\"-\" reads standard input)");
	if (n > LW_FILES)
		errx(EX_ERR, "at most %d files", LW_FILES);
	for (i = 0; i < n; i++)
		if (follow_open(&w->files[w->nfiles++], files[i],
		    a->from_start ? FOLLOW_BEGIN : FOLLOW_END,
		    a->from_start ? NULL : state_find(&st, files[i])) < 0)
			err(EX_ERR, "%s", files[i]);
}

/* signals - a signalfd for the signals we act on */
static int
signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if ((fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		err(EX_ERR, "signalfd");
	return fd;
}

/* on_signal - act on pending signals; 1 when told to stop */
static int
on_signal(struct watch *w)
{
	struct signalfd_siginfo si;
	char text[512];
	int stop = 0;

	while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			state_stats_text(sender_stats(w->snd), text,
			    sizeof(text));
			warnx("%s", text);
		}
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			stop = 1;
		save(w);
	}
	return stop;
}

/* read_sources - every new line of every source; 1 while input may come */
static int
read_sources(struct watch *w)
{
	int live = w->journal != NULL;
	size_t i;

	if (w->journal != NULL && jsource_poll(w->journal, journal_line, w) < 0)
		warnx("reading the journal failed");
	for (i = 0; i < w->nfiles; i++) {
		if (follow_poll(&w->files[i], file_line, w) < 0)
			warn("%s", w->files[i].path);
		live |= !w->files[i].eof;
	}
	return live;
}

/* wait_input - sleep until input, a signal, or the next retry */
static void
wait_input(struct watch *w)
{
	struct pollfd p[3];
	int64_t next = sender_next_ms(w->snd, mono_ms());
	int n = 0, timeout = LW_POLL_MS;
	size_t i;

	p[n].fd = w->sigfd;
	p[n++].events = POLLIN;
	if (w->journal != NULL) {
		p[n].fd = jsource_fd(w->journal);
		p[n++].events = POLLIN;
	}
	for (i = 0; i < w->nfiles; i++)
		if (w->files[i].is_stdin && !w->files[i].eof) {
			p[n].fd = w->files[i].fd;
			p[n++].events = POLLIN;
		}
	if (next >= 0 && next < timeout)
		timeout = (int)next;
	(void)poll(p, (nfds_t)n, timeout);
}

/* finish - after standard input ended: send what is queued, in bounds */
static int
finish(struct watch *w, const struct args *a)
{
	int64_t end = mono_ms() + 3 * (int64_t)a->dopt.timeout_ms + 2000;

	while (sender_flush(w->snd, mono_ms()) > 0 && mono_ms() < end)
		(void)poll(NULL, 0, 50);
	save(w);
	return sender_stats(w->snd)->queued == 0 ? 0 : 1;
}

/* run - the main loop; the exit status */
static int
run(struct watch *w, const struct args *a)
{
	for (;;) {
		int live = read_sources(w);

		sender_flush(w->snd, mono_ms());
		if (!live)
			return finish(w, a);
		if (mono_ms() - w->saved_ms >= LW_SAVE_MS)
			save(w);
		wait_input(w);
		if (on_signal(w))
			return finish(w, a);
	}
}

/* fresh - ask a running watcher to save its counters; wait for it */
static void
fresh(const char *path, pid_t pid)
{
	struct stat before, now;
	int64_t end = mono_ms() + 2000;

	if (pid <= 0 || stat(path, &before) < 0 || kill(pid, SIGUSR1) < 0)
		return;
	while (mono_ms() < end) {
		if (stat(path, &now) == 0 && (now.st_ino != before.st_ino ||
		    now.st_mtim.tv_nsec != before.st_mtim.tv_nsec ||
		    now.st_mtim.tv_sec != before.st_mtim.tv_sec))
			return;
		(void)poll(NULL, 0, 20);
	}
	warnx("pid %ld did not answer: the counters may be old", (long)pid);
}

/* show_stats - print a watcher's counters from its state file */
static int
show_stats(const struct args *a)
{
	struct state st;

	if (a->state == NULL)
		errx(EX_ERR, "--stats needs --state FILE (the watcher's)");
	if (state_load(a->state, &st) < 0)
		err(EX_ERR, "%s", a->state);
	fresh(a->state, st.pid);
	if (state_load(a->state, &st) < 0)
		err(EX_ERR, "%s", a->state);
	if (st.stats[0] == '\0')
		errx(EX_ERR, "%s holds no counters", a->state);
	printf("pid=%ld %s\n", (long)st.pid, st.stats);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct watch w;
	struct args a;
	int rc;

	parse_args(argc, argv, &a);
	if (a.stats)
		return show_stats(&a);
	w.pats = build_patterns(&a);
	if ((rc = drac_open(&w.h, a.servers, &a.dopt)) < 0)
		errx(EX_ERR, "%s: %s", a.servers, drac_strerror(rc));
	if ((w.snd = sender_new(w.h, &a.sopt)) == NULL)
		errx(EX_ERR, "out of memory");
	w.state_path = a.state;
	w.lookback = a.lookback;
	w.from_start = a.from_start;
	w.sigfd = signals();
	open_sources(&w, &a, argv + optind, argc - optind);
	save(&w);
	rc = run(&w, &a);
	sender_free(w.snd);
	drac_close(w.h);
	patterns_free(w.pats);
	return rc;
}
