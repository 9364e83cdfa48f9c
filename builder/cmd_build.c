/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "commands.h"
#include "util.h"

int cmd_build(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mk_log_error("'build' is not implemented yet");
	return 1;
}
