/* Signal names and numbers as `kill` accepts them (9, KILL, SIGKILL, sigkill, RTMIN+3). */
#pragma once

/* Parses a signal: a decimal number 1..SIGRTMAX, or a name with or without the SIG prefix, in any
 * case, including RTMIN[+n] and RTMAX[-n]. Returns 0 and the number in *ret, or -EINVAL. */
int kr_signal_parse(const char *s, int *ret);

/* Name without the SIG prefix ("KILL"), or NULL for an unknown number. */
const char *kr_signal_name(int sig);
