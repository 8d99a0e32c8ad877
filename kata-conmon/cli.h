/* Command-line parsing and validation with conmon's option table and error messages. */
#pragma once

#include <stdio.h>

#include "options.h"

/* Parses argv like GOption does for conmon (plus "-cID" short forms). Stops early when
 * --help is seen (opts->help set). Stray positional arguments are ignored. On error returns
 * -EINVAL and sets *ret_error to the text after "conmon: option parsing failed: ". */
int kc_cli_parse(int argc, char **argv, KcOptions *opts, char **ret_error);
/* Checks the option combinations in conmon's order. On failure returns -EINVAL and sets
 * *ret_message to the complete stderr line conmon prints (without newline). */
int kc_cli_validate(const KcOptions *opts, char **ret_message);
void kc_cli_print_help(FILE *f);
void kc_cli_print_version(FILE *f);
void kc_options_clear(KcOptions *opts);
