/*
 * jsource.c - the systemd journal through sd-journal (see jsource.h).
 *
 * Without a saved cursor reading starts after the last entry (or at the
 * first with from_start); with one, after the entry it names.  Entries
 * logged before the reader opened are "catch-up": the caller decides
 * from their time whether they are still worth a grant.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-journal.h>

#include "jsource.h"
#include "state.h"

#define JLINE_MAX	8192

struct jsource {
	sd_journal *j;
	uint64_t opened_us;		/* realtime at open */
	char cursor[STATE_CURSORMAX];
};

/* seek_start - place the reader for the first jsource_poll */
static int
seek_start(struct jsource *js, const char *cursor, int from_start)
{
	if (cursor != NULL && cursor[0] != '\0' &&
	    sd_journal_seek_cursor(js->j, cursor) == 0) {
		/* the entry it names was handled: step onto it, then past */
		if (sd_journal_next(js->j) > 0 &&
		    sd_journal_test_cursor(js->j, cursor) <= 0)
			sd_journal_previous(js->j);
		return 0;
	}
	if (from_start)
		return sd_journal_seek_head(js->j);
	if (sd_journal_seek_tail(js->j) < 0)
		return -1;
	return sd_journal_previous(js->j) < 0 ? -1 : 0;
}

/*
 * jsource_open - read the journal of dir (NULL: this machine's); 0, or
 * -1 with err set.
 */
int
jsource_open(struct jsource **out, const char *dir, const char *cursor,
    int from_start, char *err, size_t errlen)
{
	struct jsource *js = calloc(1, sizeof(*js));
	int rc;

	if (js == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = dir != NULL ? sd_journal_open_directory(&js->j, dir, 0) :
	    sd_journal_open(&js->j, SD_JOURNAL_LOCAL_ONLY);
	if (rc < 0 || seek_start(js, cursor, from_start) < 0) {
		snprintf(err, errlen, "journal%s%s: %s", dir ? " " : "",
		    dir ? dir : "", strerror(rc < 0 ? -rc : EIO));
		if (js->j != NULL)
			sd_journal_close(js->j);
		free(js);
		return -1;
	}
	js->opened_us = (uint64_t)time(NULL) * 1000000;
	*out = js;
	return 0;
}

/* jsource_fd - a descriptor that polls readable when entries may wait */
int
jsource_fd(struct jsource *js)
{
	return sd_journal_get_fd(js->j);
}

/* field - the value of NAME= in the current entry, "" if absent */
static const char *
field(sd_journal *j, const char *name, char *buf, size_t len)
{
	const void *data;
	size_t n, skip = strlen(name) + 1;

	buf[0] = '\0';
	if (sd_journal_get_data(j, name, &data, &n) < 0 || n < skip)
		return buf;
	n -= skip;
	if (n >= len)
		n = len - 1;
	memcpy(buf, (const char *)data + skip, n);
	buf[n] = '\0';
	return buf;
}

/* entry - the current entry as a line */
static void
entry(struct jsource *js, jsource_line_fn fn, void *arg)
{
	char ident[128], pid[32], msg[JLINE_MAX], line[JLINE_MAX + 192];
	uint64_t us = 0;
	char *c;

	field(js->j, "SYSLOG_IDENTIFIER", ident, sizeof(ident));
	field(js->j, "_PID", pid, sizeof(pid));
	field(js->j, "MESSAGE", msg, sizeof(msg));
	snprintf(line, sizeof(line), "%s%s%s%s: %s", ident, pid[0] ? "[" : "",
	    pid, pid[0] ? "]" : "", msg);
	(void)sd_journal_get_realtime_usec(js->j, &us);
	fn(arg, line, us < js->opened_us, (time_t)(us / 1000000));
	if (sd_journal_get_cursor(js->j, &c) >= 0) {
		if (strlen(c) < sizeof(js->cursor))
			strcpy(js->cursor, c);
		free(c);
	}
}

/* jsource_poll - hand out every new entry; the count, or -1 */
int
jsource_poll(struct jsource *js, jsource_line_fn fn, void *arg)
{
	int rc, count = 0;

	(void)sd_journal_process(js->j);
	while ((rc = sd_journal_next(js->j)) > 0) {
		entry(js, fn, arg);
		count++;
	}
	return rc < 0 ? -1 : count;
}

/* jsource_cursor - the last entry handed out ("" if none) */
const char *
jsource_cursor(const struct jsource *js)
{
	return js->cursor;
}

/* jsource_close - stop reading */
void
jsource_close(struct jsource *js)
{
	if (js == NULL)
		return;
	sd_journal_close(js->j);
	free(js);
}
