/* testutil.h - small helpers shared by the Check unit tests. */
#ifndef VQSIM_TESTUTIL_H
#define VQSIM_TESTUTIL_H

#include <check.h>
#include <stdlib.h>

#include "vqsim.h"

/* Assert that an int expression returns exactly the negated error code. */
#define ck_assert_err(expr, code)                                                        \
	do {                                                                             \
		int ck_err_ = (expr);                                                    \
		ck_assert_msg(ck_err_ == -(code), "%s: expected -%s, got %d (%s)", #expr, \
			      vq_errname(code), ck_err_, vq_errname(ck_err_));           \
	} while (0)

/* Run one suite and return a process exit status. */
static inline int vq_test_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
