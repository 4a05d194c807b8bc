/* Unit test for lib-tls: real handshakes over a socketpair between a server bufferevent
 * and a non-blocking client SSL in the same process, with certificates made by openssl(1)
 * in a temporary folder. Checks version and cipher, protocol settings, SNI selection,
 * reload (new sessions get the new certificate, open ones keep theirs) and the STARTTLS
 * drain (bytes sent before the switch are discarded and counted, never read as commands).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"
#include "util.h"

static char dir[64];
static char path_buf[8][128];

static const char *path(int slot, const char *name)
{
	snprintf(path_buf[slot], sizeof(path_buf[slot]), "%s/%s", dir, name);
	return path_buf[slot];
}

static void make_cert(const char *name, const char *cn)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-keyout %s/%s.key -out %s/%s.crt -subj /CN=%s -days 2 >/dev/null 2>&1",
		 dir, name, dir, name, cn);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/tern-test-tls-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	make_cert("def", "default.test");
	make_cert("mail", "mail.example.org");
	make_cert("wild", "wild.example.net");
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct server_side {
	struct bufferevent *bev;
	bool connected;
	bool error;
};

static void server_event(struct bufferevent *bev, short what, void *arg)
{
	struct server_side *sv = arg;
	if (what & BEV_EVENT_CONNECTED)
		sv->connected = true;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF))
		sv->error = true;
}

/* Turns the event loop until done(arg) or about two seconds have passed. */
static bool spin(struct event_base *base, bool (*done)(void *), void *arg)
{
	for (int i = 0; i < 2000; i++) {
		if (done(arg))
			return true;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return done(arg);
}

struct hs {
	SSL *client;
	struct server_side *sv;
};

static bool hs_done(void *arg)
{
	struct hs *h = arg;
	int r = SSL_do_handshake(h->client);
	if (r != 1) {
		int e = SSL_get_error(h->client, r);
		assert_true(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
	}
	return r == 1 && h->sv->connected;
}

/* A client SSL on fd, asking for sni (NULL: none). */
static SSL *client_new(SSL_CTX *cctx, int fd, const char *sni)
{
	SSL *c = SSL_new(cctx);
	assert_non_null(c);
	assert_int_equal(set_nonblock(fd), 0);
	SSL_set_fd(c, fd);
	SSL_set_connect_state(c);
	if (sni != NULL)
		SSL_set_tlsext_host_name(c, sni);
	return c;
}

static void peer_cn(SSL *client, char *cn, int n)
{
	X509 *cert = SSL_get1_peer_certificate(client);
	assert_non_null(cert);
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, n);
	X509_free(cert);
}

struct session {
	int fds[2];
	struct server_side sv;
	SSL *client;
};

/* An implicit-TLS session: handshake done, returns the certificate CN the client saw. */
static void session_open(struct event_base *base, struct tls_server_ctx *ctx, SSL_CTX *cctx,
			 const char *sni, struct session *s, char *cn, int cn_len)
{
	memset(s, 0, sizeof(*s));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s->fds), 0);
	assert_int_equal(set_nonblock(s->fds[0]), 0);
	s->sv.bev = tls_accept_fd(ctx, base, s->fds[0], 0);
	assert_non_null(s->sv.bev);
	bufferevent_setcb(s->sv.bev, NULL, NULL, server_event, &s->sv);
	bufferevent_enable(s->sv.bev, EV_READ | EV_WRITE);
	s->client = client_new(cctx, s->fds[1], sni);
	struct hs h = {s->client, &s->sv};
	assert_true(spin(base, hs_done, &h));
	assert_false(s->sv.error);
	peer_cn(s->client, cn, cn_len);
}

static void session_close(struct session *s)
{
	SSL_free(s->client);
	close(s->fds[1]);
	bufferevent_free(s->sv.bev);
}

struct wait_input {
	struct bufferevent *bev;
	size_t want;
};

static bool input_ready(void *arg)
{
	struct wait_input *w = arg;
	return evbuffer_get_length(bufferevent_get_input(w->bev)) >= w->want;
}

static SSL_CTX *client_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	assert_non_null(c);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	return c;
}

static void test_implicit_and_sni(void **state)
{
	struct buf err = BUF_INIT;
	struct event_base *base = event_base_new();
	SSL_CTX *cctx = client_ctx();
	struct tls_server_ctx *ctx =
	    tls_server_ctx_new(path(0, "def.crt"), path(1, "def.key"), &err);
	assert_non_null(ctx);
	assert_int_equal(tls_server_ctx_add_sni(ctx, "mail.example.org", path(0, "mail.crt"),
						path(1, "mail.key"), &err),
			 0);
	assert_int_equal(tls_server_ctx_add_sni(ctx, "*.example.net", path(0, "wild.crt"),
						path(1, "wild.key"), &err),
			 0);
	struct session s;
	char cn[128];
	session_open(base, ctx, cctx, NULL, &s, cn, sizeof(cn));
	assert_string_equal(cn, "default.test");
	struct tls_info info;
	assert_int_equal(tls_bev_info(s.sv.bev, &info), 0);
	assert_string_equal(info.version, "TLS1.3");
	assert_string_equal(info.cipher, "TLS_AES_256_GCM_SHA384");
	assert_int_equal(info.bits, 256);
	assert_string_equal(info.sni, "");
	buf_reset(&err);
	tls_info_format(&info, &err);
	assert_string_equal(buf_cstr(&err), "TLS1.3 TLS_AES_256_GCM_SHA384");
	/* data flows through */
	assert_int_equal(SSL_write(s.client, "EHLO x\r\n", 8), 8);
	struct wait_input w = {s.sv.bev, 8};
	assert_true(spin(base, input_ready, &w));
	char line[16] = {0};
	assert_int_equal(bufferevent_read(s.sv.bev, line, sizeof(line) - 1), 8);
	assert_string_equal(line, "EHLO x\r\n");
	session_close(&s);

	const struct {
		const char *sni, *cn;
	} cases[] = {
	    {"mail.example.org", "mail.example.org"}, {"MAIL.Example.ORG", "mail.example.org"},
	    {"imap.example.net", "wild.example.net"}, {"a.b.example.net", "default.test"},
	    {"example.net", "default.test"},	      {"other.test", "default.test"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		session_open(base, ctx, cctx, cases[i].sni, &s, cn, sizeof(cn));
		assert_string_equal(cn, cases[i].cn);
		assert_int_equal(tls_bev_info(s.sv.bev, &info), 0);
		assert_string_equal(info.sni, cases[i].sni);
		session_close(&s);
	}
	/* TLS 1.2 only */
	buf_reset(&err);
	assert_int_equal(tls_server_ctx_configure(ctx, "TLSv1.2", NULL, NULL, &err), 0);
	session_open(base, ctx, cctx, "mail.example.org", &s, cn, sizeof(cn));
	assert_string_equal(cn, "mail.example.org");
	assert_int_equal(tls_bev_info(s.sv.bev, &info), 0);
	assert_string_equal(info.version, "TLS1.2");
	assert_true(strstr(info.cipher, "ECDHE") != NULL);
	session_close(&s);
	assert_int_equal(tls_server_ctx_configure(ctx, "SSLv3", NULL, NULL, &err), -1);
	assert_true(strstr(buf_cstr(&err), "SSLv3") != NULL);
	tls_server_ctx_free(&ctx);
	assert_null(ctx);
	SSL_CTX_free(cctx);
	event_base_free(base);
	buf_free(&err);
}

static void test_reload(void **state)
{
	struct buf err = BUF_INIT;
	struct event_base *base = event_base_new();
	SSL_CTX *cctx = client_ctx();
	make_cert("reload", "before.test");
	struct tls_server_ctx *ctx =
	    tls_server_ctx_new(path(0, "reload.crt"), path(1, "reload.key"), &err);
	assert_non_null(ctx);
	struct session old, s;
	char cn[128];
	session_open(base, ctx, cctx, NULL, &old, cn, sizeof(cn));
	assert_string_equal(cn, "before.test");
	make_cert("reload", "after.test");
	assert_int_equal(tls_server_ctx_reload(ctx, &err), 0);
	session_open(base, ctx, cctx, NULL, &s, cn, sizeof(cn));
	assert_string_equal(cn, "after.test");
	session_close(&s);
	/* the old session still works */
	assert_int_equal(SSL_write(old.client, "NOOP\r\n", 6), 6);
	struct wait_input w = {old.sv.bev, 6};
	assert_true(spin(base, input_ready, &w));
	session_close(&old);
	/* a broken file: reload fails, the working certificate stays */
	FILE *f = fopen(path(0, "reload.crt"), "w");
	assert_non_null(f);
	fputs("not a certificate\n", f);
	fclose(f);
	buf_reset(&err);
	assert_int_equal(tls_server_ctx_reload(ctx, &err), -1);
	assert_true(strstr(buf_cstr(&err), "cannot load certificate") != NULL);
	session_open(base, ctx, cctx, NULL, &s, cn, sizeof(cn));
	assert_string_equal(cn, "after.test");
	session_close(&s);
	tls_server_ctx_free(&ctx);
	/* missing files and a key that does not match */
	buf_reset(&err);
	assert_null(tls_server_ctx_new(path(0, "none.crt"), path(1, "none.key"), &err));
	assert_true(strstr(buf_cstr(&err), "none.crt") != NULL);
	buf_reset(&err);
	assert_null(tls_server_ctx_new(path(0, "def.crt"), path(1, "mail.key"), &err));
	assert_true(strstr(buf_cstr(&err), "private key") != NULL);
	SSL_CTX_free(cctx);
	event_base_free(base);
	buf_free(&err);
}

/* Reads from a non-blocking fd until n bytes came, turning the loop meanwhile. */
static void read_plain(struct event_base *base, int fd, char *out, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < 2000 && got < n; i++) {
		ssize_t r = read(fd, out + got, n - got);
		if (r > 0)
			got += (size_t)r;
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	assert_int_equal(got, n);
}

static void test_starttls_drain(void **state)
{
	struct buf err = BUF_INIT;
	struct event_base *base = event_base_new();
	SSL_CTX *cctx = client_ctx();
	struct tls_server_ctx *ctx =
	    tls_server_ctx_new(path(0, "def.crt"), path(1, "def.key"), &err);
	assert_non_null(ctx);
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	assert_int_equal(set_nonblock(fds[0]), 0);
	assert_int_equal(set_nonblock(fds[1]), 0);
	struct bufferevent *plain = bufferevent_socket_new(base, fds[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_enable(plain, EV_READ | EV_WRITE);
	/* the attacker pipelines a command after STARTTLS, in plaintext */
	const char *sent = "STARTTLS\r\nMAIL FROM:<evil@example.com>\r\n";
	assert_int_equal(write(fds[1], sent, strlen(sent)), (ssize_t)strlen(sent));
	struct wait_input w = {plain, strlen(sent)};
	assert_true(spin(base, input_ready, &w));
	/* the protocol reads its command line, answers, and switches */
	size_t n;
	char *cmd = evbuffer_readln(bufferevent_get_input(plain), &n, EVBUFFER_EOL_CRLF_STRICT);
	assert_string_equal(cmd, "STARTTLS");
	free(cmd);
	bufferevent_write(plain, "220 2.0.0 Ready to start TLS\r\n", 30);
	size_t discarded = 0;
	struct server_side sv = {0};
	sv.bev = tls_starttls_switch(ctx, plain, &discarded, 0);
	assert_non_null(sv.bev);
	assert_int_equal(discarded, strlen("MAIL FROM:<evil@example.com>\r\n"));
	bufferevent_setcb(sv.bev, NULL, NULL, server_event, &sv);
	bufferevent_enable(sv.bev, EV_READ | EV_WRITE);
	/* the reply arrives in plaintext, before any TLS byte */
	char reply[31] = {0};
	read_plain(base, fds[1], reply, 30);
	assert_string_equal(reply, "220 2.0.0 Ready to start TLS\r\n");
	SSL *client = client_new(cctx, fds[1], NULL);
	struct hs h = {client, &sv};
	assert_true(spin(base, hs_done, &h));
	assert_int_equal(SSL_write(client, "EHLO c\r\n", 8), 8);
	w = (struct wait_input){sv.bev, 8};
	assert_true(spin(base, input_ready, &w));
	char line[64] = {0};
	assert_int_equal(bufferevent_read(sv.bev, line, sizeof(line) - 1), 8);
	assert_string_equal(line, "EHLO c\r\n"); /* nothing of the injected command */
	struct tls_info info;
	assert_int_equal(tls_bev_info(sv.bev, &info), 0);
	assert_string_equal(info.version, "TLS1.3");
	SSL_free(client);
	close(fds[1]);
	bufferevent_free(sv.bev); /* frees plain and closes fds[0] */
	tls_server_ctx_free(&ctx);
	SSL_CTX_free(cctx);
	event_base_free(base);
	buf_free(&err);
}

static void test_name_match(void **state)
{
	assert_true(tls_name_match("mail.example.org", "Mail.Example.Org"));
	assert_false(tls_name_match("mail.example.org", "mail.example.org.evil"));
	assert_true(tls_name_match("*.example.org", "imap.example.org"));
	assert_false(tls_name_match("*.example.org", "example.org"));
	assert_false(tls_name_match("*.example.org", ".example.org"));
	assert_false(tls_name_match("*.example.org", "a.b.example.org"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_match),
	    cmocka_unit_test(test_implicit_and_sni),
	    cmocka_unit_test(test_reload),
	    cmocka_unit_test(test_starttls_drain),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
