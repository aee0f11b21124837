/* SPDX-License-Identifier: MIT */
/* src/main.c — the mxcutover program: everything happens in the command-line module. */
#include "cli.h"

int main(int argc, char **argv)
{
	return mx_cli_main(argc, argv);
}
