/* imapd-thread: the THREAD tree shared by imapd-cmd-thread.c (command, ORDEREDSUBJECT,
 * output) and imapd-thread-refs.c (the REFERENCES algorithm, RFC 5256 section 3).
 */
#ifndef TERN_IMAPD_THREAD_H
#define TERN_IMAPD_THREAD_H

#include "imapd-int.h"

#include <sys/types.h>

struct thread_node {
	ssize_t msg; /* index into the keys array, -1 for a dummy */
	ssize_t parent, child, next;
};

/* Builds the REFERENCES tree of the n messages k; returns the root's index in *nodes_r
 * (free with free()). */
size_t imapd_thread_references(const struct imapd_sort_msg *k, size_t n,
			       struct thread_node **nodes_r);
/* Sorts the children of parent by sent date, then sequence number (RFC 5256 2.2). */
void imapd_thread_sort_children(struct thread_node *nodes, size_t parent,
				const struct imapd_sort_msg *k);

#endif
