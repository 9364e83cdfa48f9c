/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "commands.h"
#include "util.h"

int cmd_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mk_log_error("'list' is not implemented yet");
	return 1;
}
