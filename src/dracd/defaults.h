/*
 * defaults.h - dracd's built-in numbers that are not settings, named in
 * one place (Postfix's DEF_*), each with its reason.  The settings'
 * defaults are in config.c's table.
 */
#ifndef DRACD_DEFAULTS_H
#define DRACD_DEFAULTS_H

/* add_rate: a client's bucket holds this many seconds' worth of adds (a
 * POP farm's login burst after a restart), for this many clients (rule
 * networks) at once; beyond them the oldest bucket is reused */
#define DEF_ADD_BURST_S		2.0
#define DEF_ADD_CLIENTS		4096

/* udp_threads = 0: with sync_interval 0 each add holds its thread until
 * the disk write, and more threads let more adds share one write;
 * otherwise an add never waits and two threads keep up with the NIC */
#define DEF_UDP_THREADS_SYNC	16
#define DEF_UDP_THREADS		2

/* denial lines: at most this many per period (seconds), then one line
 * saying how many were not logged, so a flood cannot fill the disk */
#define DEF_DENY_LOG_PERIOD	10
#define DEF_DENY_LOG_BURST	10

/* a failed add's warning: at most one a minute */
#define DEF_FAIL_LOG_PERIOD	60

#endif
