/* deliver-pipe: running a program for a filter: `| program` deliveries, `* ? program`
 * conditions, `f` filters, `VAR=| program` and backquotes.
 *
 * The program gets the message on stdin (streamed from memory and the spool file), its
 * stdout is captured up to the caller's buf limit (or thrown away), its stderr is ours.
 * It runs in its own process group with a time limit; at the limit the whole group is
 * killed. SIGPIPE is blocked in the calling thread only (the queue delivers in threads)
 * and a pending one consumed after, so an early-closing program is an error, not a death.
 */
#include "deliver-int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xalloc.h"

#define PIPE_CHUNK 65536

extern char **environ;

/* In the child: plumbing, then exec; an exec failure is reported on errfd. */
static void child_exec(const struct deliver_run *run, int in, int out, int errfd)
{
	int devnull = open("/dev/null", O_RDWR);
	dup2(in >= 0 ? in : devnull, 0);
	dup2(out >= 0 ? out : devnull, 1);
	sigset_t all;
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (run->cwd != NULL && *run->cwd != 0 && chdir(run->cwd) < 0) {
		int e = errno;
		if (write(errfd, &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	if (run->envp != NULL)
		environ = run->envp;
	execvp(run->argv[0], run->argv);
	int e = errno;
	if (write(errfd, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

/* The feeding and reading state of one run. */
struct pipe_io {
	const struct deliver_src *src;
	uint64_t sent; /* bytes of src written */
	char *chunk;
	size_t chunk_len, chunk_off;
	bool write_error;
};

/* Fills io->chunk with the next bytes of the input. 0 at the end, -1 on read error. */
static ssize_t next_chunk(struct pipe_io *io)
{
	const struct deliver_src *s = io->src;
	io->chunk_off = 0;
	if (io->sent < s->mem_len) {
		size_t k = s->mem_len - io->sent < PIPE_CHUNK ? s->mem_len - io->sent : PIPE_CHUNK;
		memcpy(io->chunk, s->mem + io->sent, k);
		return (ssize_t)(io->chunk_len = k);
	}
	uint64_t off = io->sent - s->mem_len;
	if (s->fd < 0 || off >= s->fd_len)
		return (ssize_t)(io->chunk_len = 0);
	uint64_t left = s->fd_len - off;
	ssize_t n = pread(s->fd, io->chunk, left < PIPE_CHUNK ? (size_t)left : PIPE_CHUNK,
			  (off_t)(s->fd_off + off));
	io->chunk_len = n > 0 ? (size_t)n : 0;
	return n;
}

/* Writes what the pipe takes now; returns false when stdin is finished (closed). */
static bool feed(struct pipe_io *io, int fd)
{
	for (;;) {
		if (io->chunk_off == io->chunk_len && next_chunk(io) <= 0)
			return false;
		ssize_t n = write(fd, io->chunk + io->chunk_off, io->chunk_len - io->chunk_off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0) {
			io->write_error = true;
			return false;
		}
		io->chunk_off += (size_t)n;
		io->sent += (uint64_t)n;
	}
}

/* Drains what can be read; false at end of file. */
static bool drain(int fd, struct buf *out)
{
	char tmp[8192];
	for (;;) {
		ssize_t n = read(fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n <= 0)
			return false;
		if (out != NULL)
			buf_append(out, tmp, (size_t)n);
	}
}

/* Feeds stdin and reads stdout until both are done or the deadline; false on timeout. */
static bool pump(struct pipe_io *io, int *in, int *out, struct buf *out_r, uint64_t deadline)
{
	while (*in >= 0 || *out >= 0) {
		struct pollfd p[2] = {{.fd = *in, .events = POLLOUT},
				      {.fd = *out, .events = POLLIN}};
		uint64_t now = now_ms();
		if (now >= deadline)
			return false;
		int r = poll(p, 2, (int)(deadline - now < 1000 ? deadline - now : 1000));
		if (r < 0 && errno != EINTR)
			return false;
		if (*in >= 0 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) && !feed(io, *in)) {
			close(*in);
			*in = -1;
		}
		if (*out >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)) &&
		    !drain(*out, out_r)) {
			close(*out);
			*out = -1;
		}
	}
	return true;
}

/* Waits for the child until the deadline; kills its group then. The exit code, or 128 +
 * signal. */
static int reap(pid_t pid, uint64_t deadline, bool timed_out)
{
	int status = 0;
	while (!timed_out) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			timed_out = true;
		else
			usleep(2000);
	}
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 128 + SIGKILL;
}

/* Did the child fail to exec? The errno it reported, or 0. */
static int exec_error(int errfd)
{
	int e = 0;
	ssize_t n;
	while ((n = read(errfd, &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(errfd);
	return n == (ssize_t)sizeof(e) ? e : 0;
}

/* Starts the program; the first bytes of input go into the pipe before its exec is known
 * to have worked, as procmail does, so that a program which exits without reading a
 * message that fits the pipe buffer is not failed by a race. */
static int spawn(const struct deliver_run *run, struct pipe_io *io, bool capture, int *in_r,
		 int *out_r, pid_t *pid_r)
{
	int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
	if (pipe2(in, O_CLOEXEC) < 0 || (capture && pipe2(out, O_CLOEXEC) < 0) ||
	    pipe2(err, O_CLOEXEC) < 0) {
		int fds[] = {in[0], in[1], out[0], out[1], err[0], err[1]};
		for (size_t i = 0; i < 6; i++)
			if (fds[i] >= 0)
				close(fds[i]);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0)
		child_exec(run, in[0], out[1], err[1]);
	int e = pid < 0 ? errno : 0;
	close(err[1]);
	if (out[1] >= 0)
		close(out[1]);
	set_nonblock(in[1]);
	/* The read end stays open here until the pipe is filled: a program that exits at
	 * once must not turn the first write into EPIPE. */
	bool more = pid > 0 && feed(io, in[1]);
	close(in[0]);
	if (pid > 0)
		e = exec_error(err[0]);
	if (pid < 0)
		close(err[0]);
	if (e != 0) {
		close(in[1]);
		if (out[0] >= 0)
			close(out[0]);
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		log_warn("cannot run %s: %s", run->argv[0], strerror(e));
		return -1;
	}
	if (out[0] >= 0)
		set_nonblock(out[0]);
	if (!more) {
		close(in[1]);
		in[1] = -1;
	}
	*in_r = in[1];
	*out_r = out[0];
	*pid_r = pid;
	return 0;
}

int deliver_run_program(const struct deliver_run *run, struct buf *out_r)
{
	if (run->argv == NULL || run->argv[0] == NULL)
		return -1;
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	int in = -1, out = -1, rc = -1;
	pid_t pid;
	struct pipe_io io = {.src = run->input, .chunk = x_malloc(PIPE_CHUNK)};
	if (spawn(run, &io, out_r != NULL, &in, &out, &pid) == 0) {
		uint64_t deadline = now_ms() + (uint64_t)run->timeout * 1000;
		bool ok = pump(&io, &in, &out, out_r, deadline);
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		rc = reap(pid, deadline, !ok);
		if (!ok)
			log_warn("%s: killed after %u s", run->argv[0], run->timeout);
		/* It did not take the whole message: a failure (procmail's "i" flag aside). */
		if (io.write_error && !run->ignore_write_errors && rc >= 0)
			rc = -2;
	}
	x_free(&io.chunk);
	struct timespec zero = {0, 0};
	while (sigtimedwait(&pipe_set, NULL, &zero) > 0)
		;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}
