/* newaliases: compiles the alias tables of alias_maps and virtual_alias_maps into their
 * PATH.db caches now (they also rebuild themselves when their file changes). */
#ifndef TERN_NEWALIASES_H
#define TERN_NEWALIASES_H

/* `newaliases [-c CONF]`: prints one line per table ("PATH: N entries") and the
 * malformed lines as PATH:LINE: reason on stderr; exit 0, or 75 when a table could not
 * be compiled, 64 on a wrong call. */
int cmd_newaliases(int argc, char **argv);

#endif
