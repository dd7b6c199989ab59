/* shard.c - ranges of a sharded export; see shard.h. */
#include <errno.h>
#include <stdlib.h>

#include "shard.h"

#define MAX_SHARDS 65536

static int
number(const char *s, char **end, long *v)
{
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtol(s, end, 10);
	return errno != 0 ? -1 : 0;
}

int
cdb_shard_parse(const char *s, cdb_shard *sh, cdb_error *e)
{
	char *end;
	long k, n;

	if (number(s, &end, &k) == -1 || *end != '/' ||
	    number(end + 1, &end, &n) == -1 || *end != '\0' || n < 1 ||
	    n > MAX_SHARDS || k < 1 || k > n)
		return cdb_error_set(e, CDB_ERR_USAGE,
		    "--shard: expected K/N with 1 <= K <= N <= %d, not \"%s\"",
		    MAX_SHARDS, s);
	sh->k = (int)k;
	sh->n = (int)n;
	return 0;
}

void
cdb_shard_range(
    const cdb_shard *sh, long long count, long long *lo, long long *hi)
{
	if (count < 0)
		count = 0;
	/* count < 2^63 / 2^16: the products cannot overflow. */
	*lo = count * (sh->k - 1) / sh->n;
	*hi = sh->k == sh->n ? -1 : count * sh->k / sh->n;
}
