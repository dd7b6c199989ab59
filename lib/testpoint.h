/*
 * testpoint.h - pause points for cdb's own command tests, so that they
 * kill -9 a program in a known state instead of racing it.  Test-only:
 * with nothing set in the environment a point does nothing.
 *
 * With CDB_TEST_PAUSE="NAME N" and CDB_TEST_PAUSE_FIFO=path, the first
 * time the program reaches point NAME with a value of N or more (N
 * omitted: 0), the thread there writes "PID NAME\n" to path (a FIFO the
 * test reads) and then waits forever, holding everything the program
 * had done up to that point, and nothing after.
 */
#ifndef CDB_TESTPOINT_H
#define CDB_TESTPOINT_H

/* Point name reached with value; see above. */
void cdb_testpoint(const char *name, long long value);

#endif
