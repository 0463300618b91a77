/*
 * mta.h - what the tests that run real mail servers share: smtp.c (an
 * SMTP and POP3 client dialogue from a chosen loopback address) and
 * mta.c (a shell runner and stopping a detached server by its pidfile).
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

/* mta.c */
void shell(const char *cmd);
pid_t pid_in(const char *path);
void stop_pid(pid_t pid);

#endif
