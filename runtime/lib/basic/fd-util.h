/* File-descriptor helpers: flags, full reads and writes, safe integer parsing of fd numbers. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

int fd_set_nonblock(int fd, bool nonblock);
int fd_set_cloexec(int fd, bool cloexec);
/* Writes all of buf, retrying on EINTR (and waiting with poll() on EAGAIN). */
int write_all(int fd, const void *buf, size_t len);
/* Reads until len bytes or EOF; returns the number of bytes read or -errno. */
ssize_t read_full(int fd, void *buf, size_t len);
/* Parses a decimal fd number with nothing trailing. Returns the fd or -EINVAL. */
int parse_fd(const char *s);
/* Parses a decimal int with nothing trailing; 0 or -EINVAL/-ERANGE. */
int safe_atoi(const char *s, int *ret);
int safe_atoll(const char *s, long long *ret);
/* Opens /dev/null onto 0, 1 and 2. */
int redirect_stdio_to_null(void);
