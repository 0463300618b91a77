/*
 * mta.c - real mail servers for the tests: a Postfix and a Dovecot,
 * each with its own config dir, the commands that set them up, and
 * stopping one that detached, by the PID in its pidfile.
 */
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "helpers.h"
#include "mta.h"

/* shell - run cmd with /bin/sh, no terminal and stdin from /dev/null;
 * fail the test, with its output, unless it exits 0.  A command that
 * leaves a daemon behind must send that daemon's output elsewhere, or
 * the wait for the end of its output lasts the whole 30 s. */
void
shell(const char *cmd)
{
	char full[2048], out[4096];
	const char *argv[] = {"/bin/sh", "-c", full, NULL};
	int rc;

	ck_assert_msg(snprintf(full, sizeof(full), "exec 2>&1 </dev/null; %s",
	    cmd) < (int)sizeof(full), "command too long: %s", cmd);
	rc = run_prog(argv, NULL, out, sizeof(out), 30000);
	ck_assert_msg(rc == 0, "\"%s\" failed (%d): %s", cmd, rc, out);
}

/* pid_in - the PID in a pidfile (Postfix pads it with blanks), or 0 */
pid_t
pid_in(const char *path)
{
	FILE *fp = fopen(path, "r");
	int pid = 0;

	if (fp == NULL)
		return 0;
	if (fscanf(fp, " %d", &pid) != 1)
		pid = 0;
	fclose(fp);
	return pid;
}

/* stop_pid - SIGTERM, then SIGKILL if it lingers past WAIT_MS */
void
stop_pid(pid_t pid)
{
	int64_t end = now_ms() + WAIT_MS;

	if (pid <= 0 || kill(pid, SIGTERM) < 0)
		return;
	while (kill(pid, 0) == 0 && now_ms() < end)
		usleep(20000);
	kill(pid, SIGKILL);
}

/* postfix_start - a Postfix with its own config dir, queue and log under
 * dir, on loopback with no DNS; main_extra adds main.cf lines (the
 * transports and restrictions), and smtpd stands in master.cf for the
 * stock "smtp inet" line */
void
postfix_start(const char *dir, const char *main_extra, const char *smtpd)
{
	char path[400], text[4096], line[1024], *mc = NULL;
	size_t len = 0;
	FILE *in, *out;

	snprintf(text, sizeof(text), "mkdir -p %s/queue %s/data %s/log && "
	    "chown postfix %s/data", dir, dir, dir, dir);
	shell(text);
	ck_assert_int_lt(snprintf(text, sizeof(text),
	    "compatibility_level = 3.6\nqueue_directory = %s/queue\n"
	    "data_directory = %s/data\nmaillog_file = %s/log/postfix.log\n"
	    "maillog_file_prefixes = %s/log\nmyhostname = relay.test\n"
	    "mydestination =\ninet_interfaces = loopback-only\n"
	    "inet_protocols = ipv4\nmynetworks = 127.0.0.1/32\n"
	    "smtpd_peername_lookup = no\n"	/* no DNS: loopback only */
	    "smtp_dns_support_level = disabled\n"
	    "alias_maps =\nalias_database =\n%s",
	    dir, dir, dir, dir, main_extra), sizeof(text));
	snprintf(path, sizeof(path), "%s/main.cf", dir);
	write_file(path, text);
	ck_assert_ptr_nonnull(in = fopen("/usr/share/postfix/master.cf.dist",
	    "r"));
	ck_assert_ptr_nonnull(out = open_memstream(&mc, &len));
	while (fgets(line, sizeof(line), in) != NULL)
		fputs(strncmp(line, "smtp      inet", 14) == 0 ? smtpd : line,
		    out);
	fclose(in);
	fclose(out);
	snprintf(path, sizeof(path), "%s/master.cf", dir);
	write_file(path, mc);
	free(mc);
	snprintf(text, sizeof(text), "postfix -c %s start", dir);
	shell(text);
}

/* postfix_stop - the master of the Postfix in dir, by its pidfile */
void
postfix_stop(const char *dir)
{
	char p[400];

	snprintf(p, sizeof(p), "%s/queue/pid/master.pid", dir);
	stop_pid(pid_in(p));
}

/* dovecot_script - contrib's post-login script into dir/postlogin, with
 * the copy of drac-cli in dir and the dracd on port */
static void
dovecot_script(const char *dir, uint16_t dracd)
{
	char path[400], line[512], *script = NULL;
	size_t len = 0;
	FILE *in, *out;

	ck_assert_ptr_nonnull(in = fopen("contrib/dovecot/drac-postlogin",
	    "r"));
	ck_assert_ptr_nonnull(out = open_memstream(&script, &len));
	while (fgets(line, sizeof(line), in) != NULL)
		if (strncmp(line, "DRAC_CLI=", 9) == 0)
			fprintf(out, "DRAC_CLI=%s/drac-cli\n", dir);
		else if (strncmp(line, "DRAC_SERVER=", 12) == 0)
			fprintf(out, "DRAC_SERVER=127.0.0.1:%u\n", dracd);
		else
			fputs(line, out);
	fclose(in);
	fclose(out);
	snprintf(path, sizeof(path), "%s/postlogin", dir);
	write_file(path, script);
	free(script);
	chmod(path, 0755);
}

/*
 * dovecot_start - a Dovecot in dir (created here) with POP3 on pop and
 * one user, alice, password "secret".  hook DV_SCRIPT runs contrib's
 * post-login script against the dracd on port dracd; with DV_LOG_ONLY
 * only its log (dir/dovecot.log) tells of logins.  extra adds settings
 * (the plugin's, say), or is "".  The hook runs as Dovecot's service
 * user, who may not reach into the build tree: it gets a copy of
 * drac-cli in dir.
 */
void
dovecot_start(const char *dir, uint16_t pop, uint16_t dracd, int hook,
    const char *extra)
{
	char path[400], text[4096];
	const char *cli = getenv("DRAC_CLI");

	snprintf(text, sizeof(text), "mkdir -p -m 755 %s %s/run %s/state && "
	    "mkdir -p -m 777 %s/home && install -m 755 %s %s/drac-cli", dir,
	    dir, dir, dir, cli != NULL ? cli : "build/drac-cli", dir);
	shell(text);
	dovecot_script(dir, dracd);
	snprintf(path, sizeof(path), "%s/passwd", dir);
	write_file(path, "alice:{PLAIN}secret\n");
	ck_assert_int_lt(snprintf(text, sizeof(text),
	    "base_dir = %s/run\nstate_dir = %s/state\n"
	    "log_path = %s/dovecot.log\nprotocols = pop3\n"
	    "listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\n"
	    "passdb {\n driver = passwd-file\n"
	    " args = scheme=PLAIN %s/passwd\n}\n"
	    "userdb {\n driver = static\n"
	    " args = uid=nobody gid=nogroup home=%s/home/%%u\n}\n"
	    "mail_location = maildir:~/Maildir\n"
	    "default_internal_user = dovecot\ndefault_login_user = dovenull\n"
	    "service pop3-login {\n inet_listener pop3 {\n"
	    "  address = 127.0.0.1\n  port = %u\n }\n}\n%s",
	    dir, dir, dir, dir, dir, pop, extra), sizeof(text));
	if (hook == DV_SCRIPT)
		ck_assert_int_lt(snprintf(text + strlen(text),
		    sizeof(text) - strlen(text),
		    "service pop3 {\n executable = pop3 pop3-postlogin\n}\n"
		    "service pop3-postlogin {\n"
		    " executable = script-login %s/postlogin\n"
		    " user = $default_internal_user\n"
		    /* a sanitizer-built drac-cli needs more than 256M */
		    " vsz_limit = 0\n"
		    " unix_listener pop3-postlogin {\n }\n}\n", dir),
		    sizeof(text) - strlen(text));
	snprintf(path, sizeof(path), "%s/dovecot.conf", dir);
	write_file(path, text);
	/* it detaches, and keeps any pipe it was given open */
	snprintf(text, sizeof(text), "dovecot -c %s >/dev/null 2>&1", path);
	shell(text);
}

/* dovecot_stop - the Dovecot in dir, by its pidfile */
void
dovecot_stop(const char *dir)
{
	char p[400];

	snprintf(p, sizeof(p), "%s/run/master.pid", dir);
	stop_pid(pid_in(p));
}
