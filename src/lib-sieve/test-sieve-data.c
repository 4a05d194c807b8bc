/* Golden tests: every testdata/cases/NAME.sieve is run on a message from testdata/msg and
 * its actions (sieve_result_format) compared with NAME.expect. An .expect file starts
 * with optional directives, then the expected lines:
 *   @message FILE   the message (default plain.eml)
 *   @from ADDR      envelope sender (default alice@example.org; "<>" for the null one)
 *   @to ADDR        envelope recipient (default bob@example.com)
 *   @error L:C      the script must not compile; the error is at line L, column C
 * Each case also runs from its serialised form, with the same result. Time: 2024-05-20
 * 12:00:00 UTC. Set SIEVE_TEST_VERBOSE=1 to print every result.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve.h"
#include "util.h"
#include "xalloc.h"

#ifndef SIEVE_TESTDATA_DIR
#define SIEVE_TESTDATA_DIR "src/lib-sieve/testdata"
#endif

struct expect {
	char message[256], from[256], to[256];
	int err_line, err_col;
	struct buf lines;
};

static void read_expect(const char *text, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->message, sizeof(e->message), "plain.eml");
	snprintf(e->from, sizeof(e->from), "alice@example.org");
	snprintf(e->to, sizeof(e->to), "bob@example.com");
	buf_init(&e->lines, 0);
	for (const char *p = text; *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		char line[250];
		snprintf(line, sizeof(line), "%.*s", (int)n, p);
		if (strncmp(line, "@message ", 9) == 0)
			snprintf(e->message, sizeof(e->message), "%s", line + 9);
		else if (strncmp(line, "@from ", 6) == 0)
			snprintf(e->from, sizeof(e->from), "%s",
				 strcmp(line + 6, "<>") == 0 ? "" : line + 6);
		else if (strncmp(line, "@to ", 4) == 0)
			snprintf(e->to, sizeof(e->to), "%s", line + 4);
		else if (strncmp(line, "@error ", 7) == 0)
			sscanf(line + 7, "%d:%d", &e->err_line, &e->err_col);
		else if (n > 0)
			buf_printf(&e->lines, "%s\n", line);
		p = nl != NULL ? nl + 1 : p + n;
	}
}

static int run_case(const char *dir, const char *name)
{
	char path[2048];
	size_t slen, elen, mlen;
	snprintf(path, sizeof(path), "%s/cases/%s.sieve", dir, name);
	char *script = read_file_small(path, 1 << 20, &slen);
	snprintf(path, sizeof(path), "%s/cases/%s.expect", dir, name);
	char *exp = read_file_small(path, 1 << 20, &elen);
	if (script == NULL || exp == NULL) {
		printf("%s: cannot read the case files\n", name);
		return 1;
	}
	struct expect e;
	read_expect(exp, &e);
	struct sieve_error err;
	struct sieve_script *s = sieve_compile(script, slen, &err);
	int fails = 0;
	if (e.err_line != 0 || s == NULL) {
		if (s != NULL || err.line != e.err_line || err.col != e.err_col) {
			printf("%s: expected error at %d:%d, got %s %d:%d %s\n", name, e.err_line,
			       e.err_col, s != NULL ? "none" : "", err.line, err.col, err.msg);
			fails = 1;
		} else if (getenv("SIEVE_TEST_VERBOSE") != NULL) {
			printf("%s: error %d:%d %s\n", name, err.line, err.col, err.msg);
		}
		goto out;
	}
	snprintf(path, sizeof(path), "%s/msg/%s", dir, e.message);
	char *msgdata = read_file_small(path, 1 << 20, &mlen);
	struct sieve_message msg;
	sieve_message_from_memory(&msg, msgdata, mlen);
	struct sieve_envelope env = {.from = e.from, .to = e.to};
	struct sieve_ops ops = {.now = 1716206400};
	struct buf ser = BUF_INIT;
	sieve_script_serialize(s, &ser);
	struct sieve_script *s2 = sieve_script_deserialize(ser.data, ser.len, &err);
	for (int round = 0; round < 2; round++) {
		struct sieve_result res;
		struct buf out = BUF_INIT;
		sieve_execute(round == 0 ? s : s2, &msg, &env, &ops, &res);
		sieve_result_format(&res, &out);
		const char *got = out.data != NULL ? out.data : "";
		const char *want = e.lines.data != NULL ? e.lines.data : "";
		if (strcmp(got, want) != 0) {
			printf("%s%s: expected\n%sgot\n%s", name, round ? " (serialised)" : "",
			       want, got);
			fails = 1;
		} else if (round == 0 && getenv("SIEVE_TEST_VERBOSE") != NULL) {
			printf("%s: ok\n%s", name, got);
		}
		sieve_result_free(&res);
		buf_free(&out);
		if (s2 == NULL) {
			printf("%s: deserialise failed: %s\n", name, err.msg);
			fails = 1;
			break;
		}
	}
	sieve_script_free(&s2);
	buf_free(&ser);
	free(msgdata);
out:
	sieve_script_free(&s);
	buf_free(&e.lines);
	free(script);
	free(exp);
	return fails;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_cases(void **state)
{
	char path[2048];
	snprintf(path, sizeof(path), "%s/cases", SIEVE_TESTDATA_DIR);
	DIR *d = opendir(path);
	assert_non_null(d);
	char *names[512];
	size_t n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && n < 512) {
		size_t l = strlen(de->d_name);
		if (l > 6 && strcmp(de->d_name + l - 6, ".sieve") == 0)
			names[n++] = x_strndup(de->d_name, l - 6);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	int fails = 0;
	for (size_t i = 0; i < n; i++) {
		fails += run_case(SIEVE_TESTDATA_DIR, names[i]);
		free(names[i]);
	}
	printf("%zu cases, %d failed\n", n, fails);
	assert_true(n >= 40);
	assert_int_equal(fails, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
