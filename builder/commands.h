/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One file per command (cmd_*.c); each returns the process exit code:
 * 0 success, 1 failure, 2 usage. */
#ifndef MK_COMMANDS_H
#define MK_COMMANDS_H

int cmd_build(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_flash(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_seed(int argc, char **argv);

/* Set by the Makefile from git describe. */
#ifndef MKMESH_VERSION
#define MKMESH_VERSION "0.0.0-unknown"
#endif

#endif
