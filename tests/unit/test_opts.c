/* test_opts.c - emu/opts: the one option parser (syntax, values, errors). */
#include <string.h>

#include "testutil.h"
#include "device.h"

#define ck_assert_has(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)), "'%s' does not contain '%s'", (hay), (needle))

START_TEST(test_values_uint)
{
	uint64_t v;

	ck_assert_int_eq(vq_parse_uint("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	/* a leading zero is decimal, never octal (strtoul base 0 read 4096) */
	ck_assert_int_eq(vq_parse_uint("010000", &v), 0);
	ck_assert_uint_eq(v, 10000);
	ck_assert_int_eq(vq_parse_uint("0x1000", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(vq_parse_uint("0XfF", &v), 0);
	ck_assert_uint_eq(v, 255);
	ck_assert_int_eq(vq_parse_uint("18446744073709551615", &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	ck_assert_err(vq_parse_uint("18446744073709551616", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("0x10000000000000000", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("-1", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("+1", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint(" 1", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("1 ", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("0x", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("12a", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint("1K", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_uint(NULL, &v), VQ_E_INVAL);
}
END_TEST

START_TEST(test_values_size)
{
	uint64_t v;

	ck_assert_int_eq(vq_parse_size("4096", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(vq_parse_size("4k", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(vq_parse_size("1M", &v), 0);
	ck_assert_uint_eq(v, 1u << 20);
	ck_assert_int_eq(vq_parse_size("2G", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(2) << 30);
	ck_assert_int_eq(vq_parse_size("1t", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(1) << 40);
	ck_assert_int_eq(vq_parse_size("010000", &v), 0);
	ck_assert_uint_eq(v, 10000);
	ck_assert_int_eq(vq_parse_size("0x200000", &v), 0);
	ck_assert_uint_eq(v, 2u << 20);
	ck_assert_int_eq(vq_parse_size("16777215T", &v), 0);
	ck_assert_uint_eq(v, UINT64_C(16777215) << 40);
	/* one spelling everywhere: the units are letters, no B or iB */
	ck_assert_err(vq_parse_size("1MB", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("1MiB", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("1B", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("0x1M", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("16777216T", &v), VQ_E_INVAL); /* 2^64 */
	ck_assert_err(vq_parse_size("M", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("1.5M", &v), VQ_E_INVAL);
	ck_assert_err(vq_parse_size("-1M", &v), VQ_E_INVAL);
}
END_TEST

START_TEST(test_values_bool)
{
	static const char *const on[] = {"on", "true", "yes"}, *const off[] = {"off", "false", "no"};
	bool b;

	for (int i = 0; i < 3; i++) {
		b = false;
		ck_assert_int_eq(vq_parse_bool(on[i], &b), 0);
		ck_assert(b);
		ck_assert_int_eq(vq_parse_bool(off[i], &b), 0);
		ck_assert(!b);
	}
	ck_assert_err(vq_parse_bool("1", &b), VQ_E_INVAL);
	ck_assert_err(vq_parse_bool("ON", &b), VQ_E_INVAL);
	ck_assert_err(vq_parse_bool("maybe", &b), VQ_E_INVAL);
	ck_assert_err(vq_parse_bool("", &b), VQ_E_INVAL);
}
END_TEST

START_TEST(test_parse_string)
{
	char err[200] = "";
	struct vq_opts *o = vq_opts_from_string("a=1,path=/tmp/a,,b.img,flag,e=,c=x,,,,", NULL,
						 err, sizeof(err));
	const char *s;

	ck_assert_msg(o, "%s", err);
	ck_assert_uint_eq(vq_opts_count(o), 5);
	ck_assert_str_eq(vq_opts_key(o, 0), "a");
	ck_assert_str_eq(vq_opts_key(o, 1), "path");
	ck_assert_str_eq(vq_opts_key(o, 2), "flag");
	ck_assert_str_eq(vq_opts_key(o, 3), "e");
	ck_assert_str_eq(vq_opts_key(o, 4), "c");
	ck_assert_ptr_null(vq_opts_key(o, 5));
	ck_assert_int_eq(vq_opts_str(o, "path", &s, err, sizeof(err)), 1);
	ck_assert_str_eq(s, "/tmp/a,b.img");
	ck_assert_int_eq(vq_opts_str(o, "e", &s, err, sizeof(err)), 1);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(vq_opts_str(o, "c", &s, err, sizeof(err)), 1);
	ck_assert_str_eq(s, "x,,");
	s = NULL;
	ck_assert_int_eq(vq_opts_str(o, "absent", &s, err, sizeof(err)), 0);
	ck_assert_ptr_null(s);
	/* a bare key needs a value unless it is a boolean */
	ck_assert_err(vq_opts_str(o, "flag", &s, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "flag needs a value (flag=...)");
	ck_assert_str_eq(vq_opts_unused(o), "a");
	vq_opts_free(o);

	o = vq_opts_from_string("", "x", err, sizeof(err));
	ck_assert_uint_eq(vq_opts_count(o), 0);
	ck_assert_int_eq(vq_opts_parse(o, NULL, err, sizeof(err)), 0);
	ck_assert_uint_eq(vq_opts_count(o), 0);
	vq_opts_free(o);
}
END_TEST

START_TEST(test_parse_errors)
{
	static const struct {
		const char *s, *msg;
	} bad[] = {
		{"size=1M,size=2M", "blk: option 'size' given twice"},
		{"readonly,readonly=off", "blk: option 'readonly' given twice"},
		{",a=1", "blk: empty option name"},
		{"a=1,,,=2", "blk: empty option name (before '=2')"},
		{"a=1,", "blk: empty option after the last ','"},
		{"=1", "blk: empty option name (before '=1')"},
	};
	char err[200];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!vq_opts_from_string(bad[i].s, "blk", err, sizeof(err)), "%s accepted",
			      bad[i].s);
		ck_assert_str_eq(err, bad[i].msg);
	}
}
END_TEST

START_TEST(test_add_and_check)
{
	static const char *const allowed[] = {"size", "path", NULL};
	struct vq_opts *o = vq_opts_new("blk");
	char err[200];

	/* key by key, as from a Lua table: a comma is an ordinary character */
	ck_assert_int_eq(vq_opts_add(o, "path", "/tmp/a,b.img", err, sizeof(err)), 0);
	ck_assert_err(vq_opts_add(o, "path", "x", err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "blk: option 'path' given twice");
	ck_assert_err(vq_opts_add(o, "", "x", err, sizeof(err)), VQ_E_INVAL);
	ck_assert_int_eq(vq_opts_check(o, allowed, err, sizeof(err)), 0);
	ck_assert_int_eq(vq_opts_add(o, "zeta", "1", err, sizeof(err)), 0);
	ck_assert_int_eq(vq_opts_add(o, "alpha", "1", err, sizeof(err)), 0);
	/* the first unknown key in given order, every run */
	ck_assert_err(vq_opts_check(o, allowed, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "blk: unknown option 'zeta' (expected: size, path)");
	ck_assert(vq_opts_has(o, "alpha"));
	ck_assert(!vq_opts_has(o, "beta"));
	vq_opts_free(o);
	vq_opts_free(NULL);
}
END_TEST

START_TEST(test_getters)
{
	char err[200];
	struct vq_opts *o = vq_opts_from_string(
		"n=010000,h=0x10,q=100,q2=64,s=1M,s2=1MB,s3=0x1000,b1=yes,b2=false,b3,b4=1,big=70000",
		"dev", err, sizeof(err));
	uint64_t v = 7;
	bool b = false;

	ck_assert_msg(o, "%s", err);
	ck_assert_int_eq(vq_opts_uint(o, "n", 0, UINT64_MAX, &v, err, sizeof(err)), 1);
	ck_assert_uint_eq(v, 10000);
	ck_assert_int_eq(vq_opts_uint(o, "h", 0, 100, &v, err, sizeof(err)), 1);
	ck_assert_uint_eq(v, 16);
	v = 7;
	ck_assert_int_eq(vq_opts_uint(o, "absent", 0, 100, &v, err, sizeof(err)), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_err(vq_opts_uint(o, "big", 0, 65535, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "dev: big '70000' must be a number from 0 to 65535 (decimal or 0x hex)");
	ck_assert_uint_eq(v, 7);
	ck_assert_err(vq_opts_pow2(o, "q", 1, 32768, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "dev: q '100' must be a power of two from 1 to 32768");
	ck_assert_int_eq(vq_opts_pow2(o, "q2", 1, 32768, &v, err, sizeof(err)), 1);
	ck_assert_uint_eq(v, 64);
	ck_assert_int_eq(vq_opts_size(o, "s", 0, UINT64_MAX, &v, err, sizeof(err)), 1);
	ck_assert_uint_eq(v, 1u << 20);
	ck_assert_int_eq(vq_opts_size(o, "s3", 0, UINT64_MAX, &v, err, sizeof(err)), 1);
	ck_assert_uint_eq(v, 4096);
	ck_assert_err(vq_opts_size(o, "s2", 0, UINT64_MAX, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "dev: s2 '1MB' must be a size (bytes, or with suffix K, M, G or T)");
	ck_assert_err(vq_opts_size(o, "s", 0, 4096, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_has(err, "s '1M' must be a size from 0 to 4096");
	ck_assert_int_eq(vq_opts_bool(o, "b1", &b, err, sizeof(err)), 1);
	ck_assert(b);
	ck_assert_int_eq(vq_opts_bool(o, "b2", &b, err, sizeof(err)), 1);
	ck_assert(!b);
	ck_assert_int_eq(vq_opts_bool(o, "b3", &b, err, sizeof(err)), 1);
	ck_assert(b);
	ck_assert_err(vq_opts_bool(o, "b4", &b, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "dev: b4 '1' must be on or off (also true/false, yes/no)");
	ck_assert_err(vq_opts_uint(o, "b3", 0, 1, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "dev: b3 needs a value (b3=...)");
	ck_assert_ptr_null(vq_opts_unused(o));
	vq_opts_free(o);
}
END_TEST

START_TEST(test_errors_fit)
{
	/* a tiny buffer gets a truncated message, never an overflow */
	char err[8];
	struct vq_opts *o = vq_opts_from_string("longkey=longvalue", "device", err, sizeof(err));
	uint64_t v;

	ck_assert_err(vq_opts_uint(o, "longkey", 0, 1, &v, err, sizeof(err)), VQ_E_INVAL);
	ck_assert_str_eq(err, "device:");
	ck_assert_err(vq_opts_uint(o, "longkey", 0, 1, &v, NULL, 0), VQ_E_INVAL);
	vq_opts_free(o);
}
END_TEST

/* vq_opts_remove() and the generic device options built on it: packed is
 * read and taken out before a type's own allowed list sees the rest. */
START_TEST(test_remove_and_generic)
{
	char err[160] = "";
	struct vq_opts *o = vq_opts_from_string("a=1,packed=off,b=2", "rng", err, sizeof(err));
	static const char *const allowed[] = {"a", "b", NULL};
	struct vq_dev_generic g = {.packed = true};
	const char *v = NULL;

	ck_assert_ptr_nonnull(o);
	ck_assert_int_lt(vq_opts_check(o, allowed, err, sizeof(err)), 0);
	ck_assert_int_eq(vq_dev_generic_opts(o, &g, err, sizeof(err)), 0);
	ck_assert(!g.packed);
	ck_assert(!vq_opts_has(o, "packed"));
	ck_assert_int_eq(vq_opts_count(o), 2);
	ck_assert_str_eq(vq_opts_key(o, 1), "b");
	ck_assert_int_eq(vq_opts_check(o, allowed, err, sizeof(err)), 0);
	ck_assert_int_eq(vq_opts_str(o, "b", &v, err, sizeof(err)), 1);
	ck_assert_str_eq(v, "2");
	ck_assert(!vq_opts_remove(o, "packed"));
	ck_assert(vq_opts_remove(o, "b"));
	ck_assert(vq_opts_remove(o, "a"));
	ck_assert_int_eq(vq_opts_count(o), 0);
	/* not given: on; NULL list: on; a bad value: refused, named */
	ck_assert_int_eq(vq_dev_generic_opts(o, &g, err, sizeof(err)), 0);
	ck_assert(g.packed);
	ck_assert_int_eq(vq_dev_generic_opts(NULL, &g, err, sizeof(err)), 0);
	ck_assert(g.packed);
	ck_assert_int_eq(vq_opts_add(o, "packed", "maybe", err, sizeof(err)), 0);
	ck_assert_int_eq(vq_dev_generic_opts(o, &g, err, sizeof(err)), -VQ_E_INVAL);
	ck_assert_has(err, "packed 'maybe'");
	vq_opts_free(o);
}
END_TEST

static Suite *opts_suite(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tcase_create("values");

	tcase_add_test(tc, test_values_uint);
	tcase_add_test(tc, test_values_size);
	tcase_add_test(tc, test_values_bool);
	suite_add_tcase(s, tc);
	tc = tcase_create("lists");
	tcase_add_test(tc, test_parse_string);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_add_and_check);
	tcase_add_test(tc, test_getters);
	tcase_add_test(tc, test_errors_fit);
	tcase_add_test(tc, test_remove_and_generic);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(opts_suite());
}
