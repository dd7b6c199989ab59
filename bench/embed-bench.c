/*
 * embed-bench.c - ns/float of lib/embed.c's parse and format against
 * strtof and snprintf("%.9g"), on 1M float32 values shaped like
 * embeddings: mostly within [-0.2, 0.2], 1% tiny or huge.  Parsing is
 * timed on our shortest texts and on Python-style "%.17g" texts; the
 * last lines time whole 384-value vectors through JSON and base64.
 * Timings are the best of 5 runs; a busy machine inflates them.
 *
 *	make lib/libcdb.a
 *	cc -O2 -Ilib -o bench/embed-bench bench/embed-bench.c lib/libcdb.a -lm
 *	bench/embed-bench
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "embed.h"

#define N      1000000
#define ROUNDS 5

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static float
sample(void)
{
	double r, x;

	r = uniform();
	if (r < 0.005)
		return (float)((uniform() < 0.5 ? -1 : 1) *
		               pow(10, -44 + 38 * uniform()));
	if (r < 0.01)
		return (float)((uniform() < 0.5 ? -1 : 1) *
		               pow(10, 6 + 32 * uniform()));
	/* Sum of uniforms: roughly normal, sd about 0.06. */
	x = uniform() + uniform() + uniform() + uniform() - 2;
	return (float)(x * 0.1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Texts of the values, NUL-separated, with their offsets. */
struct texts {
	char *buf;
	size_t *off;
};

static void
make_texts(struct texts *t, const float *v, int mode)
{
	size_t at;
	int i;

	t->buf = malloc((size_t)N * 32);
	t->off = malloc(sizeof(size_t) * (N + 1));
	at = 0;
	for (i = 0; i < N; i++) {
		t->off[i] = at;
		if (mode == 0)
			at += cdb_embed_format_float(v[i], t->buf + at) + 1;
		else
			at += (size_t)snprintf(
			          t->buf + at, 32, "%.17g", (double)v[i]) +
			      1;
	}
	t->off[N] = at;
}

typedef double (*bench_fn)(const float *, const struct texts *);

static double
fmt_cdb(const float *v, const struct texts *t)
{
	char buf[CDB_FLOAT_MAXLEN + 1];
	size_t sum;
	int i;

	(void)t;
	sum = 0;
	for (i = 0; i < N; i++)
		sum += cdb_embed_format_float(v[i], buf) + (size_t)buf[1];
	return (double)sum;
}

static double
fmt_snprintf(const float *v, const struct texts *t)
{
	char buf[32];
	size_t sum;
	int i;

	(void)t;
	sum = 0;
	for (i = 0; i < N; i++)
		sum +=
		    (size_t)snprintf(buf, sizeof(buf), "%.9g", (double)v[i]) +
		    (size_t)buf[1];
	return (double)sum;
}

static double
parse_cdb(const float *v, const struct texts *t)
{
	double sum;
	size_t used;
	float f;
	int i;

	(void)v;
	sum = 0;
	for (i = 0; i < N; i++) {
		if (cdb_embed_parse_float(t->buf + t->off[i],
		        t->off[i + 1] - t->off[i] - 1, &f, &used) != 0)
			abort();
		sum += f;
	}
	return sum;
}

static double
parse_strtof(const float *v, const struct texts *t)
{
	double sum;
	int i;

	(void)v;
	sum = 0;
	for (i = 0; i < N; i++)
		sum += strtof(t->buf + t->off[i], NULL);
	return sum;
}

/* Whole vectors of DIM, as the tools handle them. */
#define DIM 384

static double
json_cdb(const float *v, const struct texts *t)
{
	static float back[DIM];
	cdb_buf b;
	size_t dim;
	double sum;
	int i;

	(void)t;
	cdb_buf_init(&b);
	sum = 0;
	for (i = 0; i + DIM <= N; i += DIM) {
		cdb_buf_reset(&b);
		if (cdb_embed_format_json(v + i, DIM, &b) != 0 ||
		    cdb_embed_parse_json(b.data, b.len, back, DIM, &dim, NULL) <
		        0)
			abort();
		sum += back[0];
	}
	cdb_buf_free(&b);
	return sum;
}

static double
b64_cdb(const float *v, const struct texts *t)
{
	static float back[DIM];
	cdb_buf b;
	size_t dim;
	double sum;
	int i;

	(void)t;
	cdb_buf_init(&b);
	sum = 0;
	for (i = 0; i + DIM <= N; i += DIM) {
		cdb_buf_reset(&b);
		if (cdb_embed_b64_encode(v + i, DIM, &b) != 0 ||
		    cdb_embed_b64_decode(
		        b.data, b.len, back, DIM, &dim, NULL) != 0)
			abort();
		sum += back[0];
	}
	cdb_buf_free(&b);
	return sum;
}

/* Best of ROUNDS, in ns per float. */
static double
run(bench_fn fn, const float *v, const struct texts *t)
{
	volatile double sink;
	double best, t0, dt;
	int r;

	best = 1e9;
	for (r = 0; r < ROUNDS; r++) {
		t0 = now();
		sink = fn(v, t);
		dt = now() - t0;
		if (dt < best)
			best = dt;
	}
	(void)sink;
	return best * 1e9 / N;
}

int
main(void)
{
	struct texts shortest, repr17;
	float *v;
	int i;

	v = malloc(sizeof(float) * N);
	for (i = 0; i < N; i++)
		v[i] = sample();
	make_texts(&shortest, v, 0);
	make_texts(&repr17, v, 1);
	printf("%d floats, best of %d runs, ns/float\n", N, ROUNDS);
	printf(
	    "format  cdb_embed_format_float   %6.1f\n", run(fmt_cdb, v, NULL));
	printf("format  snprintf %%.9g            %6.1f\n",
	    run(fmt_snprintf, v, NULL));
	printf("parse   cdb_embed_parse_float    %6.1f  (shortest text, "
	       "%.1f bytes)\n",
	    run(parse_cdb, v, &shortest), (double)shortest.off[N] / N - 1);
	printf("parse   strtof                   %6.1f\n",
	    run(parse_strtof, v, &shortest));
	printf("parse   cdb_embed_parse_float    %6.1f  (%%.17g text, "
	       "%.1f bytes)\n",
	    run(parse_cdb, v, &repr17), (double)repr17.off[N] / N - 1);
	printf("parse   strtof                   %6.1f\n",
	    run(parse_strtof, v, &repr17));
	printf("json    format_json + parse_json %6.1f  (vectors of %d)\n",
	    run(json_cdb, v, NULL), DIM);
	printf(
	    "base64  b64_encode + b64_decode  %6.1f\n", run(b64_cdb, v, NULL));
	return 0;
}
