/* durable: making written data durable, one file at a time or as a group.
 *
 * Tern's promise (DESIGN.md principle 1) is that acknowledged mail is on stable storage.
 * Every durability point in the queue and in local delivery goes through these calls.
 * Two methods (tern.conf sync_method):
 * - fsync: fsync(2) of each file and folder, as POSIX specifies; each call ends in a disk
 *   cache flush.
 * - syncfs: one syncfs(2) of the whole file system serves every thread of the process
 *   that asked for durability while it was not yet running (group commit): N concurrent
 *   requests cost about two flushes instead of N. Everything written before the request
 *   is durable when it returns, file data and folder entries alike. Best when the queue
 *   and the mailboxes are on file systems that other write-heavy programs do not share,
 *   since a syncfs also waits for their dirty data.
 * Both return 0, or -1 with errno set. With fsync, the fsyncs of one folder are grouped the
 * same way: a caller waits for an fsync of the folder that started after its call (or runs
 * it), so threads linking into one Maildir's new/ at once share about two fsyncs of it.
 */
#ifndef TERN_DURABLE_H
#define TERN_DURABLE_H

#include <stdint.h>

enum durable_method { DURABLE_FSYNC, DURABLE_SYNCFS };

void durable_set_method(enum durable_method method);
enum durable_method durable_get_method(void);
/* The data and metadata of the open file fd. */
int durable_file(int fd);
/* The data of the open file fd and the metadata needed to read it back (its length, its
 * blocks: fdatasync(2)), not its times. For a file rewritten in place at the same length
 * (a recycled queue file) that spares the write of its inode; a file that grew or shrank
 * gets its inode written as with durable_file. */
int durable_data(int fd);
/* The entries of folder path (a create, link or rename in it). */
int durable_dir(const char *path);
/* The folder holding path. */
int durable_parent(const char *path);
/* How many folder fsyncs were asked for (durable_dir with fsync) and made, in this
 * process so far: the difference is what the grouping saved. */
void durable_dir_stats(uint64_t *requests, uint64_t *flushes);

#endif
