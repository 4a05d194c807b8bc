/* deliver-system: one delivery to a system user, as that user.
 *
 * deliver_as_user (called as root, by a deliver worker's per-connection process or by
 * `tern deliver -d USER`) forks a child that becomes the recipient (initgroups, plus
 * system_mail_group for the dotlocks of /var/mail as procmail and mail.local have it
 * through set-group-id mail; then setgid, setuid, no-new-privs: lib privsep) and runs the
 * ordinary delivery code (deliver_local: ~/.forward, ~/.procmailrc, Sieve, the INBOX)
 * with a clean environment in the home folder. Meanwhile the calling process gives up
 * root for run_user and serves the child's forwards over a socketpair: a user may not
 * write the queue folder, so the child sends each forward (sender, addresses, bytes, and
 * the message descriptor) and this helper queues it with deliver_forward. The child's
 * last message is its result; a child that dies without one, or takes too long, is a
 * deferral, so the queue keeps the message.
 */
#include "deliver-int.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "privsep.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#define SYSDELIVER_SLACK_S 120

/* Seconds a delivery may take before the child is killed and the message deferred. */
unsigned deliver_system_timeout(const struct conf *c)
{
	return (unsigned)(2 * conf_num(c, "deliver_command_timeout") +
			  conf_num(c, "mbox_lock_timeout") + SYSDELIVER_SLACK_S);
}

/* Becomes the recipient: its groups plus the mail group, its gid, its uid, no-new-privs.
 * 0, or -1. */
static int become_user(const struct conf *c, const struct user_info *info, struct buf *err)
{
	if (info->uid == 0) {
		buf_printf(err, "will not deliver as root (%s): give root an alias", info->login);
		return -1;
	}
	return privsep_become(info->login, info->uid, info->gid,
			      conf_str(c, "system_mail_group"), err);
}

/* Gives up root for run_user (the forwarding helper). 0, or -1. */
static int become_run_user(const struct conf *c, struct buf *err)
{
	const char *user = conf_str(c, "run_user");
	if (geteuid() != 0 || user[0] == '\0')
		return 0;
	return privsep_drop(user, NULL, err);
}

/* Closes every descriptor above 2 but keep1 and keep2. */
static void close_others(int keep1, int keep2)
{
	int lo = keep1 < keep2 ? keep1 : keep2, hi = keep1 < keep2 ? keep2 : keep1;
	if (lo > 3)
		close_range(3, (unsigned)lo - 1, 0);
	if (hi > lo + 1)
		close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
	close_range((unsigned)hi + 1, ~0u, 0);
}

/* The child: becomes the user and delivers; sends the result and exits. */
static void child_run(const struct conf *c, const struct user_info *info,
		      const struct delivery_request *req, bool unique, int chan)
{
	struct delivery_result res;
	int code = 75;
	struct buf err = BUF_INIT;
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	close_others(chan, req->message_fd);
	if (become_user(c, info, &err) < 0) {
		log_error("%s: to=<%s>: %s", req->queue_id, req->recipient, buf_cstr(&err));
		deliver_result_set(&res, DELIVERY_DEFER, "4.3.0", "%s", buf_cstr(&err));
	} else {
		umask(077);
		clearenv();
		setenv("HOME", info->home, 1);
		setenv("USER", info->login, 1);
		setenv("LOGNAME", info->login, 1);
		setenv("SHELL", "/bin/sh", 1);
		setenv("PATH", "/usr/local/bin:/usr/bin:/bin", 1);
		if (chdir(info->home) < 0 && chdir("/") < 0)
			log_warn("chdir: %s", strerror(errno));
		deliver_forward_set_channel(chan);
		struct deliver_user u;
		deliver_user_system(c, info, &u);
		struct delivery_request r = *req;
		r.maildir = u.inbox;
		struct deliver_ctx ctx = {.conf = c, .req = &r, .user = &u, .unique_names = unique};
		code = deliver_local(&ctx, &res);
		deliver_user_free(&u);
	}
	struct buf msg = BUF_INIT;
	deliver_wire_result(&res, code, &msg);
	int r = deliver_wire_send(chan, &msg, -1);
	_exit(r == 0 ? 0 : 75);
}

/* The helper: queues one forward the child asked for, and answers it. */
static void helper_forward(const struct conf *c, int chan, const char *msg, size_t len, int fd)
{
	struct deliver_wire_fwd fw;
	struct buf mem = BUF_INIT, err = BUF_INIT, id = BUF_INIT, reply = BUF_INIT;
	bool ok = false;
	uint64_t mem_max = conf_num(c, "deliver_filter_max_size") + (1u << 20);
	if (deliver_wire_forward_parse(msg, len, &fw) < 0 || fw.mem_len > mem_max ||
	    (fw.fd_len > 0 && fd < 0)) {
		buf_append_str(&err, "malformed forward request");
		goto answer;
	}
	char *list = x_strdup(fw.rcpt_list), *save = NULL;
	char *sender = x_strdup(fw.sender);
	char *chunk = x_malloc(DELIVER_WIRE_CHUNK + 1);
	while (mem.len < fw.mem_len) {
		ssize_t n = deliver_wire_recv(chan, chunk, DELIVER_WIRE_CHUNK, NULL);
		if (n <= 0 || (uint64_t)n > fw.mem_len - mem.len) {
			buf_append_str(&err, "forward data cut short");
			break;
		}
		buf_append(&mem, chunk, (size_t)n);
	}
	x_free(&chunk);
	if (err.len == 0) {
		char **rcpts = NULL;
		size_t n = 0;
		for (char *a = strtok_r(list, "\t", &save); a != NULL; a = strtok_r(NULL, "\t", &save)) {
			rcpts = x_reallocarray(rcpts, n + 1, sizeof(*rcpts));
			rcpts[n++] = a;
		}
		struct deliver_src src = {.mem = mem.data,
					  .mem_len = mem.len,
					  .fd = fw.fd_len > 0 ? fd : -1,
					  .fd_off = fw.fd_off,
					  .fd_len = fw.fd_len};
		ok = deliver_forward(c, sender, rcpts, n, &src, &id, &err) == 0;
		x_free(&rcpts);
	}
	x_free(&list);
	x_free(&sender);
answer:
	deliver_wire_forwarded(ok, ok ? buf_cstr(&id) : buf_cstr(&err), &reply);
	if (deliver_wire_send(chan, &reply, -1) < 0)
		log_warn("forward: cannot answer the delivery process: %s", strerror(errno));
	buf_free(&mem);
	buf_free(&err);
	buf_free(&id);
	buf_free(&reply);
}

/* Serves the child until its result (1), its end without one (0), or the deadline (-1). */
static int helper_serve(const struct conf *c, int chan, struct delivery_result *res, int *code_r)
{
	uint64_t deadline = now_ms() + (uint64_t)deliver_system_timeout(c) * 1000;
	char *msg = x_malloc(DELIVER_WIRE_MAX);
	int r = 0;
	for (;;) {
		uint64_t now = now_ms();
		struct pollfd p = {.fd = chan, .events = POLLIN};
		int pr = now < deadline ? poll(&p, 1, (int)(deadline - now)) : 0;
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			r = -1;
			break;
		}
		int fd = -1;
		ssize_t n = pr > 0 ? deliver_wire_recv(chan, msg, DELIVER_WIRE_MAX, &fd) : -1;
		if (n <= 0)
			break;
		if (deliver_wire_result_parse(msg, (size_t)n, res, code_r) == 0) {
			r = 1;
			if (fd >= 0)
				close(fd);
			break;
		}
		helper_forward(c, chan, msg, (size_t)n, fd);
		if (fd >= 0)
			close(fd);
	}
	x_free(&msg);
	return r;
}

int deliver_as_user(const struct conf *c, const struct user_info *info,
		    const struct delivery_request *req, bool unique, struct delivery_result *res)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		deliver_result_errno(res, "socketpair for", req->recipient, errno);
		return 75;
	}
	pid_t pid = fork();
	if (pid < 0) {
		deliver_result_errno(res, "fork for", req->recipient, errno);
		close(sv[0]);
		close(sv[1]);
		return 75;
	}
	if (pid == 0) {
		close(sv[0]);
		child_run(c, info, req, unique, sv[1]);
	}
	close(sv[1]);
	struct buf err = BUF_INIT;
	int code = 75;
	if (become_run_user(c, &err) < 0) {
		/* The helper never queues as root: its forwards would be root's files. */
		log_error("%s: %s", req->queue_id, buf_cstr(&err));
		shutdown(sv[0], SHUT_RDWR);
	}
	int served = helper_serve(c, sv[0], res, &code);
	if (served < 0)
		kill(pid, SIGKILL);
	close(sv[0]);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (served <= 0) {
		if (served < 0)
			deliver_result_set(res, DELIVERY_DEFER, "4.3.0",
					   "delivery to %s took longer than %us", info->login,
					   deliver_system_timeout(c));
		else if (WIFSIGNALED(status))
			deliver_result_set(res, DELIVERY_DEFER, "4.3.0",
					   "delivery process for %s killed by signal %d",
					   info->login, WTERMSIG(status));
		else
			deliver_result_set(res, DELIVERY_DEFER, "4.3.0",
					   "delivery process for %s ended without a result",
					   info->login);
		code = 75;
	}
	buf_free(&err);
	return code;
}
