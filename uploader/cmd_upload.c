/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Placeholder until the uploader lands (issue 3). */
#include "../builder/commands.h"
#include "../builder/util.h"

int cmd_upload(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	mk_log_error("'upload' is not implemented yet");
	return 1;
}
