/*
 * mta.h - what the tests that run real mail servers share: smtp.c (an
 * SMTP and POP3 client dialogue from a chosen loopback address) and
 * mta.c (a Postfix and a Dovecot of their own, a shell runner, stopping
 * a detached server by its pidfile).
 */
#ifndef TESTS_MTA_H
#define TESTS_MTA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* smtp.c */
int smtp_connect(const char *src, uint16_t port);
int smtp_reply(int fd, char *buf, size_t len);
int smtp_say(int fd, const char *cmd, char *buf, size_t len);
int smtp_rcpt(const char *src, uint16_t port, char *said, size_t len);
int pop3_login(const char *src, uint16_t port, const char *pass);
int port_listens(void *port);

/* mta.c */
enum { DV_LOG_ONLY, DV_SCRIPT, DV_PLUGIN };	/* how Dovecot tells dracd */

void shell(const char *cmd);
pid_t pid_in(const char *path);
void stop_pid(pid_t pid);
void postfix_start(const char *dir, const char *main_extra,
    const char *smtpd);
void postfix_stop(const char *dir);
void dovecot_start(const char *dir, uint16_t pop, uint16_t dracd, int hook,
    const char *extra);
void dovecot_stop(const char *dir);

#endif
