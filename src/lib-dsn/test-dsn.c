/* Unit tests for lib-dsn: the report's structure and fields, RET=HDRS, truncation at a
 * line end, xtext, and dsn_send's rules (NOTIFY per action, null sender, double bounces) over
 * a real queue folder. With TERN_DSN_DUMP=PATH the full bounce is also written to PATH
 * (tests/test_bounce.py parses it with Python's email package). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "xalloc.h"

static const char original[] = "Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\n"
			       "From: Sender <sender@remote.test>\nSubject: hello\n\n"
			       "first line\nsecond line\nthird line\n";

static int buf_write(void *arg, const void *p, size_t n)
{
	buf_append(arg, p, n);
	return 0;
}

static int original_fd(void)
{
	char path[] = "/tmp/tern-dsn-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, original, strlen(original)), (ssize_t)strlen(original));
	return fd;
}

static void params(struct dsn_params *p, struct dsn_rcpt *r)
{
	r[0] = (struct dsn_rcpt){DSN_ACTION_FAILED, "gone@example.test", "rfc822;Gone+x@example.test",
				 "5.1.1", "smtp; 550 5.1.1 no such user here", NULL, 1767225600};
	r[1] = (struct dsn_rcpt){DSN_ACTION_FAILED, "far@remote.test", NULL, "5.7.1",
				 "smtp; 554 5.7.1 relay denied", "mx.remote.test", 0};
	*p = (struct dsn_params){.hostname = "mx.example.test", .to = "sender@remote.test",
				 .queue_id = "QID", .envid = "env-1", .arrival = 1767225600,
				 .now = 1767225700, .max_size = 50000, .rcpts = r,
				 .rcpt_count = 2, .boundary = "BOUND"};
}

static void test_build_full(void **state)
{
	struct dsn_params p;
	struct dsn_rcpt r[2];
	params(&p, r);
	int fd = original_fd();
	struct buf out = BUF_INIT;
	assert_int_equal(dsn_build_to(&p, fd, buf_write, &out), 0);
	const char *s = buf_cstr(&out);
	assert_non_null(strstr(s, "Content-Type: multipart/report; report-type=delivery-status;\n"
				  "\tboundary=\"BOUND\"\n"));
	assert_non_null(strstr(s, "Auto-Submitted: auto-replied\n"));
	assert_non_null(strstr(s, "--BOUND\nContent-Type: message/delivery-status\n"));
	assert_non_null(strstr(s, "Reporting-MTA: dns; mx.example.test\n"));
	assert_non_null(strstr(s, "Original-Envelope-Id: env-1\n"));
	assert_non_null(strstr(s, "\nOriginal-Recipient: rfc822;Gone+x@example.test\n"
				  "Final-Recipient: rfc822; gone@example.test\nAction: failed\n"
				  "Status: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user here\n"));
	assert_non_null(strstr(s, "Remote-MTA: dns; mx.remote.test\n"));
	assert_non_null(strstr(s, "--BOUND\nContent-Type: message/rfc822\n"));
	assert_non_null(strstr(s, "\nthird line\n\n--BOUND--\n"));
	const char *dump = getenv("TERN_DSN_DUMP");
	if (dump != NULL) {
		FILE *f = fopen(dump, "w");
		assert_non_null(f);
		fwrite(out.data, 1, out.len, f);
		fclose(f);
	}
	buf_free(&out);
	close(fd);
}

static void test_headers_and_cut(void **state)
{
	struct dsn_params p;
	struct dsn_rcpt r[2];
	params(&p, r);
	p.ret = DSN_RET_FULL; /* a warning returns the header whatever RET says (3461 6.2) */
	p.retry_until = 1767225600 + 86400;
	r[0].action = r[1].action = DSN_ACTION_DELAYED;
	int fd = original_fd();
	struct buf out = BUF_INIT;
	assert_int_equal(dsn_build_to(&p, fd, buf_write, &out), 0);
	const char *s = buf_cstr(&out);
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers\n"));
	assert_non_null(strstr(s, "Subject: hello\n\n--BOUND--\n"));
	assert_null(strstr(s, "first line"));
	assert_non_null(strstr(s, "Action: delayed\n"));
	assert_non_null(strstr(s, "Subject: Delayed Mail"));
	assert_non_null(strstr(s, "Will-Retry-Until: Fri, 2 Jan 2026 00:00:00 +0000\n"));
	/* A success report: relayed and delivered, the header only, no retry date. */
	r[0].action = DSN_ACTION_DELIVERED;
	r[1].action = DSN_ACTION_RELAYED;
	buf_reset(&out);
	assert_int_equal(dsn_build_to(&p, fd, buf_write, &out), 0);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "Subject: Successful Mail Delivery Report\n"));
	assert_non_null(strstr(s, "Action: delivered\n"));
	assert_non_null(strstr(s, "Action: relayed\n"));
	assert_non_null(strstr(s, "Content-Type: text/rfc822-headers\n"));
	assert_null(strstr(s, "Will-Retry-Until"));
	assert_null(strstr(s, "first line"));
	/* RET=HDRS on a bounce: the header. */
	r[0].action = r[1].action = DSN_ACTION_FAILED;
	p.ret = DSN_RET_HDRS;
	buf_reset(&out);
	assert_int_equal(dsn_build_to(&p, fd, buf_write, &out), 0);
	assert_non_null(strstr(buf_cstr(&out), "Content-Type: text/rfc822-headers\n"));
	assert_null(strstr(buf_cstr(&out), "first line"));
	/* Full, but cut at the last line end within max_size bytes. */
	p.ret = DSN_RET_FULL;
	p.max_size = strlen(original) - 5;
	buf_reset(&out);
	assert_int_equal(dsn_build_to(&p, fd, buf_write, &out), 0);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "\nsecond line\n\n--BOUND--\n"));
	assert_null(strstr(s, "third"));
	buf_free(&out);
	close(fd);
}

static void test_xtext(void **state)
{
	char *s = dsn_xtext_decode("rfc822;a+2Bb+3Dc@x");
	assert_string_equal(s, "rfc822;a+b=c@x");
	free(s);
	assert_null(dsn_xtext_decode("bad+2"));
	assert_null(dsn_xtext_decode("bad+zz"));
	assert_true(dsn_xtext_valid("rfc822;a+2Bb+3Dc@x"));
	assert_true(dsn_xtext_valid(""));
	assert_false(dsn_xtext_valid("a=b"));
	assert_false(dsn_xtext_valid("a b"));
	assert_false(dsn_xtext_valid("a+2"));
	assert_false(dsn_xtext_valid("a+2b")); /* hexchar is upper case */
	assert_false(dsn_xtext_valid("caf\xc3\xa9"));
	s = dsn_xtext_encode("a+b=c d@x");
	assert_string_equal(s, "a+2Bb+3Dc+20d@x");
	assert_true(dsn_xtext_valid(s));
	free(s);
	assert_null(dsn_xtext_encode("caf\xc3\xa9@x"));
	assert_null(dsn_xtext_encode("tab\there"));
	s = dsn_xtext_decode("");
	assert_string_equal(s, "");
	free(s);
}

static struct queue_envelope *queue_msg_dsn(const char *dir, const char *sender,
					    const char *bounce, const char *dsn0)
{
	struct buf err = BUF_INIT;
	struct queue_writer *w = queue_writer_open(dir, &err);
	assert_non_null(w);
	queue_writer_write(w, original, strlen(original));
	queue_writer_set_sender(w, sender);
	queue_writer_add_rcpt(w, "gone@example.test", "gone@example.test");
	queue_writer_add_rcpt(w, "quiet@example.test", "quiet@example.test");
	if (dsn0 != NULL)
		queue_writer_set_attr(w, "dsn_rcpt_0", dsn0);
	queue_writer_set_attr(w, "dsn_rcpt_1", "NOTIFY=NEVER");
	queue_writer_set_attr(w, "dsn_ret", "HDRS");
	if (bounce != NULL)
		queue_writer_set_attr(w, "bounce", bounce);
	char id[QUEUE_ID_MAX];
	snprintf(id, sizeof(id), "%s", queue_writer_id(w));
	assert_int_equal(queue_writer_commit(w, &err), 0);
	queue_writer_free(&w);
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	buf_free(&err);
	return env;
}

static struct queue_envelope *queue_msg(const char *dir, const char *sender, const char *bounce)
{
	return queue_msg_dsn(dir, sender, bounce,
			     "NOTIFY=FAILURE,DELAY ORCPT=rfc822;G+2Bx@example.test");
}

/* The data of a queued message (a notification), without the envelope after it. */
static char *read_data(const char *dir, const char *id)
{
	struct buf err = BUF_INIT;
	struct queue_envelope *env;
	assert_int_equal(queue_envelope_load(dir, id, &env, &err), QUEUE_LOAD_OK);
	int fd = queue_data_open(dir, env);
	assert_true(fd >= 0);
	static char data[65536];
	assert_true(env->size > 0 && env->size < sizeof(data));
	ssize_t n = pread(fd, data, (size_t)env->size, 0);
	assert_int_equal(n, (ssize_t)env->size);
	data[n] = '\0';
	close(fd);
	queue_envelope_free(&env);
	buf_free(&err);
	return data;
}

static void test_send_bounce(void **state)
{
	char dir[] = "/tmp/tern-dsnq-XXXXXX";
	assert_non_null(mkdtemp(dir));
	struct buf err = BUF_INIT;
	assert_int_equal(queue_dirs_create(dir, &err), 0);
	struct dsn_config cfg = {dir, "mx.example.test", 50000, 0, "postmaster@example.test"};
	struct dsn_item f[2] = {{0, DSN_ACTION_FAILED, "5.1.1", "no such user here", NULL},
				{1, DSN_ACTION_FAILED, "5.1.1", "550 5.1.1 gone", "mx.remote.test"}};
	char id[QUEUE_ID_MAX];

	struct queue_envelope *env = queue_msg(dir, "sender@remote.test", NULL);
	assert_int_equal(dsn_send(&cfg, env, f, 2, id, &err), 1);
	struct queue_envelope *b;
	assert_int_equal(queue_envelope_load(dir, id, &b, &err), QUEUE_LOAD_OK);
	assert_string_equal(b->sender, "");
	assert_string_equal(b->rcpts[0].addr, "sender@remote.test");
	assert_string_equal(queue_envelope_attr(b, "bounce"), "yes");
	/* It names the original's f records it stands for: both recipients, also the
	 * one NOTIFY=NEVER leaves out of the report (queue-report.c). */
	struct queue_report *rep;
	size_t nrep;
	assert_int_equal(queue_envelope_reports(b, &rep, &nrep, &err), 0);
	assert_int_equal(nrep, 1);
	assert_string_equal(rep[0].origin, env->id);
	assert_int_equal(rep[0].key, 'f');
	assert_int_equal(rep[0].count, 2);
	assert_int_equal(rep[0].idx[0], 0);
	assert_int_equal(rep[0].idx[1], 1);
	queue_reports_free(&rep, nrep);
	const char *data = read_data(dir, id);
	assert_non_null(strstr(data, "Original-Recipient: rfc822;G+x@example.test\n"
				     "Final-Recipient: rfc822; gone@example.test\n"));
	assert_null(strstr(data, "quiet@example.test")); /* NOTIFY=NEVER */
	assert_non_null(strstr(data, "text/rfc822-headers"));
	/* Only NOTIFY=NEVER recipients: nothing. */
	assert_int_equal(dsn_send(&cfg, env, f + 1, 1, id, &err), 0);
	/* NOTIFY=FAILURE,DELAY: a warning, but no success report. */
	struct dsn_item w = {0, DSN_ACTION_DELAYED, "4.4.1", "cannot connect", NULL};
	assert_int_equal(dsn_send(&cfg, env, &w, 1, id, &err), 1);
	assert_non_null(strstr(read_data(dir, id), "Action: delayed\n"));
	struct queue_envelope *wn;
	assert_int_equal(queue_envelope_load(dir, id, &wn, &err), QUEUE_LOAD_OK);
	char *want = x_asprintf("%s w 0", env->id);
	assert_string_equal(queue_envelope_attr(wn, "dsn_of"), want);
	x_free(&want);
	queue_envelope_free(&wn);
	w.action = DSN_ACTION_RELAYED, w.status = "2.0.0";
	assert_int_equal(dsn_send(&cfg, env, &w, 1, id, &err), 0);
	assert_false(dsn_wanted(env, 0, DSN_ACTION_DELIVERED));
	assert_true(dsn_wanted(env, 0, DSN_ACTION_FAILED));
	assert_false(dsn_wanted(env, 1, DSN_ACTION_DELAYED)); /* NEVER */
	queue_envelope_free(&env);

	/* The bounce itself fails: once to the postmaster, then never again. */
	assert_int_equal(dsn_send(&cfg, b, f, 1, id, &err), 1);
	struct queue_envelope *d;
	assert_int_equal(queue_envelope_load(dir, id, &d, &err), QUEUE_LOAD_OK);
	assert_string_equal(d->rcpts[0].addr, "postmaster@example.test");
	assert_string_equal(queue_envelope_attr(d, "bounce"), "double");
	assert_int_equal(dsn_send(&cfg, d, f, 1, id, &err), 0);
	w.action = DSN_ACTION_DELAYED; /* a delayed bounce: nobody is warned */
	assert_int_equal(dsn_send(&cfg, b, &w, 1, id, &err), 0);
	queue_envelope_free(&d);
	queue_envelope_free(&b);

	env = queue_msg(dir, "", NULL); /* from <>, not a bounce of ours: nothing */
	assert_int_equal(dsn_send(&cfg, env, f, 1, id, &err), 0);
	queue_envelope_free(&env);
	/* NOTIFY=SUCCESS: a delivered report; no NOTIFY: none on success, warnings yes. */
	env = queue_msg_dsn(dir, "sender@remote.test", NULL, "NOTIFY=SUCCESS");
	struct dsn_item ok = {0, DSN_ACTION_DELIVERED, "2.0.0", "delivered to mailbox", NULL};
	assert_int_equal(dsn_send(&cfg, env, &ok, 1, id, &err), 1);
	data = read_data(dir, id);
	assert_non_null(strstr(data, "Action: delivered\nStatus: 2.0.0\n"
				     "Diagnostic-Code: smtp; 250 2.0.0 delivered to mailbox\n"));
	struct queue_envelope *on;
	assert_int_equal(queue_envelope_load(dir, id, &on, &err), QUEUE_LOAD_OK);
	char *o_want = x_asprintf("%s o 0", env->id);
	assert_string_equal(queue_envelope_attr(on, "dsn_of"), o_want);
	x_free(&o_want);
	queue_envelope_free(&on);
	ok.action = DSN_ACTION_DELAYED; /* NOTIFY=SUCCESS alone: no warning */
	assert_int_equal(dsn_send(&cfg, env, &ok, 1, id, &err), 0);
	queue_envelope_free(&env);
	env = queue_msg_dsn(dir, "sender@remote.test", NULL, NULL);
	ok.action = DSN_ACTION_RELAYED;
	assert_int_equal(dsn_send(&cfg, env, &ok, 1, id, &err), 0);
	ok.action = DSN_ACTION_DELAYED;
	assert_int_equal(dsn_send(&cfg, env, &ok, 1, id, &err), 1);
	/* Passing on: no ORCPT received, one made from the address as given. */
	char *notify, *orcpt;
	dsn_rcpt_params(env, 0, &notify, &orcpt);
	assert_null(notify);
	assert_string_equal(orcpt, "rfc822;gone@example.test");
	free(orcpt);
	queue_envelope_free(&env);
	env = queue_msg(dir, "sender@remote.test", NULL);
	dsn_rcpt_params(env, 0, &notify, &orcpt);
	assert_string_equal(notify, "FAILURE,DELAY");
	assert_string_equal(orcpt, "rfc822;G+2Bx@example.test"); /* as received */
	free(notify), free(orcpt);
	queue_envelope_free(&env);
	env = queue_msg_dsn(dir, "sender@remote.test", NULL, "NOTIFY=SOMETIMES ORCPT=rfc822;a=b");
	dsn_rcpt_params(env, 0, &notify, &orcpt);
	assert_null(notify); /* malformed: not passed on */
	assert_null(orcpt);
	queue_envelope_free(&env);
	buf_free(&err);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_full),
	    cmocka_unit_test(test_headers_and_cut),
	    cmocka_unit_test(test_xtext),
	    cmocka_unit_test(test_send_bounce),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
