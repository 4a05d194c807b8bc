/* master-int: what the files of src/master share. */
#ifndef TERN_MASTER_INT_H
#define TERN_MASTER_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "buf.h"

/* Opens a listening socket for "HOST:PORT"; -1 and err on failure. */
int listen_open(const char *address, struct buf *err);
/* Switches to user (its uid, gid and groups); 0, or -1 with err. */
int privdrop_to(const char *user, struct buf *err);

#endif
