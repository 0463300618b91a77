/*
 * config.h - dracd.conf settings.
 *
 * A struct config is filled once (defaults, then the file, then the command
 * line through config_set) and is read-only afterwards; SIGHUP builds a new
 * one and swaps it in whole.
 */
#ifndef DRACD_CONFIG_H
#define DRACD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#define CONFIG_PATHMAX 1024
#define CONFIG_ERRMAX 1280

/* auto: as the existing map has it (no map: btree, plain, no NUL) */
enum map_type { MAP_BTREE, MAP_HASH, MAP_TYPE_AUTO };
enum map_keys { MAP_KEYS_PLAIN, MAP_KEYS_CIDR, MAP_KEYS_AUTO };
enum map_nul { MAP_NUL_NO, MAP_NUL_YES, MAP_NUL_AUTO };
/* how a sync interval above 0 brings the map up to date (0 edits) */
enum map_update { MAP_UPDATE_REWRITE, MAP_UPDATE_EDIT };
enum add_transport { ADD_ANY, ADD_TCP };
enum admin_transport { ADMIN_AUTO, ADMIN_ANY, ADMIN_TCP };	/* auto: as adds */
/* the order of store.h's enum store_ack */
enum group_ack { GROUP_ACK_QUORUM, GROUP_ACK_ALL, GROUP_ACK_ONE,
    GROUP_ACK_NONE };
#define CONFIG_SITEMAX 280	/* "HOST:PORT" and its NUL */
#define CONFIG_GROUPMAX 15	/* members in group_sites */
/* where a setting's value came from */
enum config_from { CONFIG_DEFAULT, CONFIG_FILE, CONFIG_CMDLINE };
#define CONFIG_NMAX 64		/* settings the table may hold */

struct config {
	char dbfile[CONFIG_PATHMAX];
	char allow_file[CONFIG_PATHMAX];
	char listen[CONFIG_PATHMAX];	/* "*" or a list of addresses */
	char user[64];
	char pidfile[CONFIG_PATHMAX];
	char policy_listen[CONFIG_PATHMAX];	/* "" off, inet:..., unix:... */
	char socketmap_listen[CONFIG_PATHMAX];
	char policy_action[256];
	char add_key_file[CONFIG_PATHMAX];	/* "": adds need no key */
	char never_grant[CONFIG_PATHMAX];	/* networks no add grants */
	int64_t port;
	int64_t expire_ms;		/* default lifetime of a grant */
	int64_t max_ttl_ms;
	int64_t sync_interval_ms;	/* 0: synced before acknowledging */
	int64_t map_type;		/* enum map_type */
	int64_t map_keys;		/* enum map_keys */
	int64_t map_nul;		/* enum map_nul: NUL-terminated keys */
	int64_t map_update;		/* enum map_update */
	int64_t max_entries;
	int64_t journal_size;		/* bytes before a snapshot; 0: auto */
	int64_t udp_threads;
	int64_t tcp_max_connections;
	int64_t tcp_max_per_source;
	int64_t tcp_request_timeout_ms;
	int64_t tcp_idle_timeout_ms;
	int64_t rpcbind;		/* register with rpcbind */
	int64_t rpcbind_check_ms;	/* how often to check the registration */
	int64_t add_transport;		/* enum add_transport */
	int64_t admin_transport;	/* enum admin_transport */
	int64_t add_rate;		/* adds a second per client; 0: no limit */
	int64_t audit_grants;		/* an audit line per add granted */
	char metrics_listen[CONFIG_PATHMAX];	/* "" off, inet:HOST:PORT */
	char group_local[CONFIG_SITEMAX];	/* "": a single host */
	char group_sites[CONFIG_PATHMAX];	/* the other members */
	int64_t group_priority;		/* election priority; 0: never master */
	int64_t group_ack;		/* enum group_ack */
	unsigned char from[CONFIG_NMAX];	/* enum config_from, by row */
	unsigned char setting_from;	/* what config_set records */
};

/* config_diff calls this for each setting whose value differs */
typedef void (*config_diff_fn)(void *arg, const char *name,
    const char *oldval, const char *newval, int reloadable);

void config_defaults(struct config *);
int config_set(struct config *, const char *key, const char *value,
    char *err, size_t errlen);
int config_read(struct config *, FILE *, const char *name, char *err,
    size_t errlen);
int config_load(struct config *, const char *path, int must_exist,
    char *err, size_t errlen);
int config_from(const struct config *, const char *key);
void config_dump(const struct config *, const char *file, FILE *);
void config_diff(const struct config *, const struct config *,
    config_diff_fn, void *arg);
int config_check(const struct config *, char *err, size_t errlen);

/* a group member's address as parsed by config_site */
struct config_site {
	char host[CONFIG_SITEMAX];	/* address without brackets, or name */
	unsigned int port;
	char canon[CONFIG_SITEMAX];	/* "host:port", "[v6]:port", lower case */
};

int config_site(const char *spec, struct config_site *, char *err,
    size_t errlen);
const char *config_sites_next(const char **cursor, char *buf, size_t len);

#endif
