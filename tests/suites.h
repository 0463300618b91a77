/* suites.h - one suite per module; check_main.c runs them all. */
#ifndef TESTS_SUITES_H
#define TESTS_SUITES_H

#include <check.h>

Suite *make_addr_suite(void);
Suite *make_acl_suite(void);
Suite *make_config_suite(void);
Suite *make_store_suite(void);
Suite *make_daemon_suite(void);
Suite *make_rpcbind_suite(void);
Suite *make_lib_suite(void);
Suite *make_cli_suite(void);
Suite *make_lookup_suite(void);
Suite *make_logwatch_suite(void);
Suite *make_mta_suite(void);
Suite *make_mta_others_suite(void);
Suite *make_hardening_suite(void);
Suite *make_authz_suite(void);
Suite *make_priv_suite(void);
Suite *make_netns_suite(void);
Suite *make_stream_suite(void);
Suite *make_tcpadd_suite(void);
Suite *make_opsconf_suite(void);
Suite *make_metrics_suite(void);
Suite *make_audit_suite(void);
Suite *make_upgrade_suite(void);
Suite *make_milter_suite(void);
Suite *make_groupcli_suite(void);
Suite *make_group_suite(void);

#endif
