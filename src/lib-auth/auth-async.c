/* auth-async: password checks off the event loop.
 *
 * A crypt(3) check of a yescrypt or sha512-crypt hash costs tens of milliseconds on
 * purpose; done in a protocol worker's event loop it would stall every other session for
 * that long. The user is looked up in the loop thread (the directory is in memory); the
 * hash comparison runs in a small pool of threads (one per CPU), and the result comes back
 * to the loop through a pipe. A job whose session went away is cancelled: its callback is
 * never called. Unknown users cost a comparison as well, so timing tells nothing.
 */
#include "auth.h"
#include "log.h"
#include "userdb.h"
#include "util.h"
#include "xalloc.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUTH_POOL_MAX 8

struct auth_job {
	char *password, *hash, *address;
	char *login; /* a system user's account: checked by sysuser_verify */
	bool known, cancelled;
	enum sasl_lookup result;
	auth_job_done_cb *done;
	void *arg;
	struct auth_job *next;
};

struct auth_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct auth_job *todo, *todo_tail, *finished;
	int pipe_fds[2];
	struct event *ev;
	pthread_t threads[AUTH_POOL_MAX];
	size_t nthreads;
};

/* A hash that no password matches, compared against for unknown users. */
static const char auth_dummy_hash[] =
	"$6$rounds=5000$tern.nouser$KnO.YfQJrD3ly1lLn1GG8TUx9CF0dN9pCOHhKn.eJrPUzFvfCcvWvDn9EfLmc"
	"2z4Gj0Hq3OTMB2dJ6UQxCkfj1";

static void *auth_pool_run(void *arg)
{
	struct auth_pool *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->todo == NULL)
			pthread_cond_wait(&p->cond, &p->lock);
		struct auth_job *j = p->todo;
		p->todo = j->next;
		if (p->todo == NULL)
			p->todo_tail = NULL;
		pthread_mutex_unlock(&p->lock);
		if (j->login != NULL) {
			j->result = auth_system_check(j->login, j->password);
		} else {
			bool ok = password_check(j->password, j->known ? j->hash : auth_dummy_hash);
			j->result = !j->known ? SASL_LOOKUP_UNKNOWN
				    : ok      ? SASL_LOOKUP_OK
					      : SASL_LOOKUP_BAD;
		}
		explicit_bzero(j->password, strlen(j->password));
		pthread_mutex_lock(&p->lock);
		j->next = p->finished;
		p->finished = j;
		char c = 1;
		if (write(p->pipe_fds[1], &c, 1) < 0 && errno != EAGAIN)
			log_warn("auth pool: wake-up pipe: %s", strerror(errno));
	}
	return NULL;
}

static void auth_job_free(struct auth_job *j)
{
	free(j->password);
	free(j->hash);
	free(j->address);
	free(j->login);
	free(j);
}

/* In the loop thread: hands finished checks to their sessions. */
static void auth_pool_collect(evutil_socket_t fd, short what, void *arg)
{
	struct auth_pool *p = arg;
	char drain[64];
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->lock);
	struct auth_job *list = p->finished;
	p->finished = NULL;
	pthread_mutex_unlock(&p->lock);
	while (list != NULL) {
		struct auth_job *j = list;
		list = j->next;
		if (!j->cancelled)
			j->done(j->arg, j->result, j->result == SASL_LOOKUP_OK ? j->address : NULL);
		auth_job_free(j);
	}
}

static struct auth_pool *auth_pool_new(struct event_base *base)
{
	struct auth_pool *p = X_NEW(struct auth_pool);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (pipe2(p->pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0)
		fatal("auth pool: pipe: %s", strerror(errno));
	p->ev = event_new(base, p->pipe_fds[0], EV_READ | EV_PERSIST, auth_pool_collect, p);
	if (p->ev == NULL || event_add(p->ev, NULL) < 0)
		fatal("auth pool: cannot watch the wake-up pipe");
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	p->nthreads = cpus < 1 ? 1 : cpus > AUTH_POOL_MAX ? AUTH_POOL_MAX : (size_t)cpus;
	for (size_t i = 0; i < p->nthreads; i++) {
		int e = pthread_create(&p->threads[i], NULL, auth_pool_run, p);
		if (e != 0)
			fatal("auth pool: pthread_create: %s", strerror(e));
	}
	return p;
}

struct auth_job *auth_password_async(struct auth *a, struct event_base *base, const char *user,
				     const char *password, auth_job_done_cb *done, void *arg)
{
	struct auth_pool **pp = auth_pool_slot(a);
	struct user_info info;
	struct buf err = BUF_INIT;
	int found = userdb_lookup(auth_userdb(a), user, &info, &err);
	if (found < 0) {
		log_error("auth: user directory: %s", buf_cstr(&err));
		buf_free(&err);
		return NULL; /* the caller answers with a temporary failure */
	}
	buf_free(&err);
	if (*pp == NULL)
		*pp = auth_pool_new(base);
	struct auth_pool *p = *pp;
	struct auth_job *j = X_NEW(struct auth_job);
	j->password = x_strdup(password);
	j->known = found == 1;
	if (j->known) {
		j->hash = x_strdup(info.hash);
		j->address = x_strdup(info.address);
		if (info.system)
			j->login = x_strdup(info.login);
		user_info_free(&info);
	}
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&p->lock);
	if (p->todo_tail != NULL)
		p->todo_tail->next = j;
	else
		p->todo = j;
	p->todo_tail = j;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	return j;
}

void auth_job_cancel(struct auth_job *j)
{
	/* Only the loop thread reads or sets this, and only it frees jobs. */
	j->cancelled = true;
}
