/* testpoint.c - pause points for the command tests; see testpoint.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testpoint.h"

void
cdb_testpoint(const char *name, long long value)
{
	static volatile int fired;
	const char *want = getenv("CDB_TEST_PAUSE");
	const char *fifo = getenv("CDB_TEST_PAUSE_FIFO");
	size_t n = strlen(name);
	char msg[256];
	int fd, len;

	if (want == NULL || fifo == NULL || fired ||
	    strncmp(want, name, n) != 0 ||
	    (want[n] != '\0' && want[n] != ' ') ||
	    value < (want[n] == ' ' ? atoll(want + n + 1) : 0))
		return;
	fired = 1;
	len = snprintf(msg, sizeof(msg), "%ld %s\n", (long)getpid(), name);
	if ((fd = open(fifo, O_WRONLY | O_CLOEXEC)) != -1) {
		if (write(fd, msg, (size_t)len) != len) {
			/* The test then times out and says so. */
		}
		close(fd);
	}
	for (;;)
		pause();
}
