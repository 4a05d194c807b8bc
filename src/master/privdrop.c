/* privdrop: giving up root in a worker. The master keeps root only to bind sockets and
 * start workers; every worker switches to run_user before it reads any network input,
 * and sets no-new-privs so nothing it runs can gain privilege again (lib's privsep). */
#include "master-int.h"
#include "privsep.h"

int privdrop_to(const char *user, struct buf *err)
{
	return privsep_drop(user, NULL, err);
}
