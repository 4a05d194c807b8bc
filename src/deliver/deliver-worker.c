/* deliver-worker: role deliver (user_source = system), and the queue manager's side of it.
 *
 * The only worker that keeps root, because it must become each recipient; it parses no
 * network input. The master binds QUEUE_DIR/deliver.sock (SOCK_SEQPACKET, run_user's,
 * mode 0600) before the queue manager starts. For each local delivery a queue thread
 * connects and sends one "deliver" message (queue ID, recipient index, sender, recipient,
 * account, arrival time, recheck; deliver-wire.c) with the queued data file's descriptor.
 * The worker checks the peer is run_user (SO_PEERCRED) and forks one process per
 * connection, which reads and checks the request, looks the account up again, and calls
 * deliver_as_user (deliver-system.c); the outcome goes back as one "result" message. The
 * queue records it exactly as an in-thread delivery: a deferral stays queued, and the
 * Maildir names are the same exactly-once names.
 */
#include "deliver-int.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "queue.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#define DELIVER_SOCKET_NAME "deliver.sock"
#define DELIVER_MAX_CHILDREN 256
#define DELIVER_CONNECT_WAIT_MS 10000
#define DELIVER_STOP_WAIT_MS 30000

char *deliver_socket_path(const struct conf *c)
{
	return x_asprintf("%s/%s", conf_str(c, "queue_dir"), DELIVER_SOCKET_NAME);
}

int deliver_socket_listen(const struct conf *c, struct buf *err)
{
	char *path = deliver_socket_path(c);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		buf_printf(err, "%s: path too long for a socket", path);
		goto out;
	}
	struct passwd *pw = getpwnam(conf_str(c, "run_user"));
	if (pw == NULL) {
		buf_printf(err, "run_user %s: no such account", conf_str(c, "run_user"));
		goto out;
	}
	struct buf derr = BUF_INIT;
	if (queue_dirs_create(conf_str(c, "queue_dir"), &derr) < 0)
		log_warn("%s", buf_cstr(&derr));
	buf_free(&derr);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	unlink(path);
	mode_t old = umask(077);
	int r = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chown(path, pw->pw_uid, pw->pw_gid) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0) {
		buf_printf(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	x_free(&path);
	return fd;
}

/* ---- the queue manager's side ---- */

static int handoff_connect(const struct conf *c, struct buf *err)
{
	char *path = deliver_socket_path(c);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = -1;
	/* The master made the socket before starting us, but the worker behind it may be
	 * restarting: wait a little before deferring. */
	for (uint64_t until = now_ms() + DELIVER_CONNECT_WAIT_MS;;) {
		fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		int e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
		if ((e != ENOENT && e != ECONNREFUSED && e != EAGAIN) || now_ms() > until) {
			buf_printf(err, "deliver worker at %s: %s", path, strerror(e));
			break;
		}
		usleep(100 * 1000);
	}
	x_free(&path);
	return fd;
}

void deliver_handoff(const struct conf *c, const struct delivery_request *req, const char *login,
		     struct delivery_result *res)
{
	struct buf err = BUF_INIT, msg = BUF_INIT;
	int fd = handoff_connect(c, &err);
	if (fd < 0) {
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0", "%s", buf_cstr(&err));
		buf_free(&err);
		return;
	}
	struct deliver_wire_req w = {.queue_id = req->queue_id,
				     .rcpt_index = req->rcpt_index,
				     .sender = req->sender,
				     .recipient = req->recipient,
				     .login = login,
				     .queue_time = req->queue_time,
				     .recheck = req->recheck,
				     .message_sized = req->message_sized,
				     .message_size = req->message_size};
	deliver_wire_request(&w, &msg);
	char reply[DELIVER_WIRE_MAX];
	ssize_t n = -1;
	int code;
	if (deliver_wire_send(fd, &msg, req->message_fd) == 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int timeout = (int)(deliver_system_timeout(c) + 30) * 1000, pr;
		while ((pr = poll(&p, 1, timeout)) < 0 && errno == EINTR)
			;
		n = pr > 0 ? deliver_wire_recv(fd, reply, sizeof(reply), NULL) : -1;
	}
	if (n <= 0 || deliver_wire_result_parse(reply, (size_t)n, res, &code) < 0)
		deliver_result_set(res, DELIVERY_DEFER, "4.3.0",
				   "no answer from the deliver worker%s%s", n < 0 ? ": " : "",
				   n < 0 ? strerror(errno) : "");
	close(fd);
	buf_free(&msg);
	buf_free(&err);
}

/* ---- the worker ---- */

/* One connection, in its own process (root until deliver_as_user). */
static int serve_connection(const struct conf *c, int conn, uid_t run_uid)
{
	struct delivery_result res;
	int code = 75;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
	    (cred.uid != 0 && cred.uid != run_uid)) {
		log_error("refusing a delivery request from uid %ld", (long)cred.uid);
		return 1;
	}
	char *msg = x_malloc(DELIVER_WIRE_MAX);
	int fd = -1;
	ssize_t n = deliver_wire_recv(conn, msg, DELIVER_WIRE_MAX, &fd);
	struct deliver_wire_req w;
	struct userdb *db = NULL;
	struct user_info info = {0};
	struct buf err = BUF_INIT;
	int found = -1;
	if (n <= 0 || fd < 0 || deliver_wire_request_parse(msg, (size_t)n, &w) < 0 ||
	    !queue_id_valid(w.queue_id)) {
		log_error("malformed delivery request refused");
		deliver_result_set(&res, DELIVERY_DEFER, "4.3.0", "malformed delivery request");
	} else {
		db = userdb_open(c);
		found = userdb_lookup(db, w.login, &info, &err);
		if (found < 0)
			deliver_result_set(&res, DELIVERY_DEFER, "4.3.0", "%s", buf_cstr(&err));
		else if (found == 0 || !info.system)
			deliver_result_set(&res, DELIVERY_BOUNCE, "5.1.1", "no such user here");
		code = found > 0 && info.system ? -1 : deliver_exit_code(&res);
	}
	if (code == -1) {
		struct delivery_request req = {.queue_id = w.queue_id,
					       .rcpt_index = w.rcpt_index,
					       .sender = w.sender,
					       .recipient = w.recipient,
					       .maildir = info.maildir,
					       .message_fd = fd,
					       .message_sized = w.message_sized,
					       .message_size = w.message_size,
					       .hostname = conf_str(c, "hostname"),
					       .queue_time = w.queue_time,
					       .recheck = w.recheck};
		code = deliver_as_user(c, &info, &req, true, &res);
	}
	struct buf out = BUF_INIT;
	deliver_wire_result(&res, code, &out);
	if (deliver_wire_send(conn, &out, -1) < 0)
		log_warn("cannot answer the queue manager: %s", strerror(errno));
	buf_free(&out);
	buf_free(&err);
	if (found > 0)
		user_info_free(&info);
	userdb_close(&db);
	if (fd >= 0)
		close(fd);
	x_free(&msg);
	return 0;
}

static int worker_listen_fd = -1;

static void worker_take_fd(int fd, const char *name, void *arg)
{
	if (strcmp(name, "deliver") == 0)
		worker_listen_fd = fd;
	else
		close(fd);
}

/* Reaps finished connection processes; returns how many are still running. */
static size_t worker_reap(size_t running)
{
	int status;
	pid_t pid;
	while (running > 0 && (pid = waitpid(-1, &status, WNOHANG)) > 0) {
		running--;
		if (WIFSIGNALED(status))
			log_error("delivery process %ld killed by signal %d", (long)pid,
				  WTERMSIG(status));
	}
	return running;
}

static void worker_accept(const struct conf *c, uid_t run_uid, size_t *running)
{
	int conn = accept4(worker_listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(worker_listen_fd);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		_exit(serve_connection(c, conn, run_uid));
	}
	if (pid < 0)
		log_error("fork: %s", strerror(errno)); /* the queue defers on the closed socket */
	else
		(*running)++;
	close(conn);
}

int deliver_worker_main(const char *conf_path)
{
	struct buf err = BUF_INIT;
	struct conf *c = conf_load(conf_path, &err);
	if (c == NULL) {
		fprintf(stderr, "%s", buf_cstr(&err));
		return 78;
	}
	log_init("deliver", conf_num(c, "log") == 1);
	log_set_level((enum log_level)conf_num(c, "log_level"));
	net_listen_fds(NULL, worker_take_fd, NULL);
	struct passwd *pw = getpwnam(conf_str(c, "run_user"));
	if (worker_listen_fd < 0 || geteuid() != 0 || pw == NULL) {
		log_error("the deliver worker needs root, run_user and its socket from the master");
		return 78;
	}
	uid_t run_uid = pw->pw_uid;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_info("delivering as system users on %s/%s", conf_str(c, "queue_dir"),
		 DELIVER_SOCKET_NAME);
	size_t running = 0;
	for (;;) {
		struct pollfd p = {.fd = worker_listen_fd, .events = POLLIN};
		int pr = running < DELIVER_MAX_CHILDREN ? poll(&p, 1, 200) : (usleep(50000), 0);
		if (pr > 0)
			worker_accept(c, run_uid, &running);
		running = worker_reap(running);
		struct timespec zero = {0, 0};
		int sig = sigtimedwait(&set, NULL, &zero);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			struct conf *nc = conf_load(conf_path, &err);
			if (nc != NULL) {
				conf_free(&c);
				c = nc;
				log_set_level((enum log_level)conf_num(c, "log_level"));
			}
			buf_reset(&err);
		}
	}
	/* Deliveries in progress finish (their outcome reaches the queue manager, or it
	 * defers and finds the delivered copy at the next try). */
	close(worker_listen_fd);
	for (uint64_t until = now_ms() + DELIVER_STOP_WAIT_MS; running > 0 && now_ms() < until;) {
		running = worker_reap(running);
		usleep(20000);
	}
	conf_free(&c);
	buf_free(&err);
	return 0;
}
