/* biff: `tern biff [y|n]`, as biff(1): new-mail notices on this terminal are on when its
 * owner-execute bit is set; comsat (comsat.c) looks at that bit before writing.
 */
#include "client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int biff_usage(void)
{
	fprintf(stderr, "usage: tern biff [y|n] [--tty PATH]\n");
	return 2;
}

/* The terminal: --tty, else the first of stdin, stdout, stderr that is one. */
static const char *biff_tty(const char *given)
{
	if (given != NULL)
		return given;
	for (int fd = 0; fd < 3; fd++) {
		const char *t = ttyname(fd);
		if (t != NULL)
			return t;
	}
	return NULL;
}

int cmd_biff(int argc, char **argv)
{
	const char *tty = NULL, *set = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tty") == 0 && i + 1 < argc)
			tty = argv[++i];
		else if (set == NULL && (strcmp(argv[i], "y") == 0 || strcmp(argv[i], "n") == 0))
			set = argv[i];
		else
			return biff_usage();
	}
	const char *path = biff_tty(tty);
	struct stat st;
	if (path == NULL || stat(path, &st) < 0) {
		fprintf(stderr, "tern biff: %s: %s\n", path != NULL ? path : "no terminal",
			path != NULL ? strerror(errno) : "not run on a terminal");
		return 2;
	}
	if (set == NULL) {
		bool on = st.st_mode & S_IXUSR;
		printf("is %s\n", on ? "y" : "n");
		return on ? 0 : 1;
	}
	mode_t mode = st.st_mode & 07777;
	mode = set[0] == 'y' ? mode | S_IXUSR : mode & ~(mode_t)S_IXUSR;
	if (chmod(path, mode) < 0) {
		fprintf(stderr, "tern biff: %s: %s\n", path, strerror(errno));
		return 2;
	}
	return set[0] == 'y' ? 0 : 1;
}
