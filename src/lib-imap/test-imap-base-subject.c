/* Unit tests of imap-base-subject (RFC 5256 section 2.1). */
#include "imap-base-subject.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <cmocka.h>

static void check(const char *in, const char *want, bool want_reply)
{
	bool reply;
	char *got = imap_base_subject(in, &reply);
	assert_string_equal(got, want);
	assert_int_equal(reply, want_reply);
	free(got);
}

static void test_base_subject(void **state)
{
	check(NULL, "", false);
	check("a", "a", false);
	check("Re: a", "a", true);
	check("RE: Re: re:a", "a", true);
	check("Fwd: a (fwd)", "a", true);
	check("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", true);
	check("Re: [FWD: c]", "c", true);
	check("[xyz]", "[xyz]", false);
	check("[xyz] abc", "abc", false);
	check("re [list]: x", "x", true);
	check("  a \t  b  ", "a b", false);
	check("b (a)", "b (a)", false);
	check("Ref: a", "Ref: a", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_base_subject)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
