/*
 * check_main.c - the one test runner.  Check's fork mode stays on, so a
 * crash fails one test, not the run.  CK_RUN_SUITE / CK_RUN_CASE select.
 */
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	SRunner *sr = srunner_create(make_addr_suite());
	int failed;

	srunner_add_suite(sr, make_acl_suite());
	srunner_add_suite(sr, make_config_suite());
	srunner_add_suite(sr, make_store_suite());
	srunner_add_suite(sr, make_daemon_suite());
	srunner_add_suite(sr, make_rpcbind_suite());
	srunner_add_suite(sr, make_lib_suite());
	srunner_add_suite(sr, make_cli_suite());
	srunner_add_suite(sr, make_lookup_suite());
	srunner_add_suite(sr, make_logwatch_suite());
	srunner_add_suite(sr, make_mta_suite());
	srunner_add_suite(sr, make_mta_others_suite());
	srunner_add_suite(sr, make_hardening_suite());
	srunner_add_suite(sr, make_authz_suite());
	srunner_add_suite(sr, make_priv_suite());
	srunner_add_suite(sr, make_netns_suite());
	srunner_add_suite(sr, make_stream_suite());
	srunner_add_suite(sr, make_tcpadd_suite());
	srunner_add_suite(sr, make_opsconf_suite());
	srunner_add_suite(sr, make_metrics_suite());
	srunner_add_suite(sr, make_audit_suite());
	srunner_add_suite(sr, make_upgrade_suite());
	srunner_add_suite(sr, make_milter_suite());
	srunner_add_suite(sr, make_groupcli_suite());
	srunner_add_suite(sr, make_group_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
