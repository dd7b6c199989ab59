/*
 * validate_stats.c - the bottom of the validation engine (see
 * validate_impl.h): the comparisons and statistics behind cdb-validate's
 * tests, free of I/O and of the run's context so the unit tests can pin
 * them down; see validate.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chroma.h"
#include "digest.h"
#include "validate.h"

static const char *const test_keys[CDB_VT_N] = {"count_verification",
    "embedding_integrity", "metadata_completeness",
    "semantic_search_equivalence", "collection_distribution",
    "duplicate_detection", "field_type_validation", "citation_references"};

static const char *const test_titles[CDB_VT_N] = {"Count verification",
    "Embedding integrity", "Metadata completeness",
    "Semantic search equivalence", "Collection distribution",
    "Duplicate detection", "Field type validation", "Citation references"};

static const char *const status_names[] = {
    "PASSED", "SKIPPED", "WARNING", "FAILED", "ERROR"};

static const char *const reason_names[CDB_VR_N] = {"", "Data Loss Detected",
    "Chunk Count Mismatch", "Duplicate IDs Found", "Embedding Corruption",
    "Schema Violation", "Search Results Diverged"};

const char *
cdb_validate_test_key(int t)
{
	return t >= 0 && t < CDB_VT_N ? test_keys[t] : "?";
}

const char *
cdb_validate_test_title(int t)
{
	return t >= 0 && t < CDB_VT_N ? test_titles[t] : "?";
}

const char *
cdb_validate_status_name(int s)
{
	return s >= 0 && s <= CDB_VS_ERROR ? status_names[s] : "?";
}

const char *
cdb_validate_reason_name(int r)
{
	return r > CDB_VR_NONE && r < CDB_VR_N ? reason_names[r] : "?";
}

int
cdb_validate_status_parse(const char *name)
{
	int s;

	for (s = 0; name != NULL && s <= CDB_VS_ERROR; s++)
		if (strcmp(name, status_names[s]) == 0)
			return s;
	return -1;
}

/* ------------------------------------------------------- embeddings -- */

int
cdb_validate_emb_problem(const float *v, size_t dim, size_t want_dim)
{
	size_t i;
	int zero = 1;

	if (v == NULL || dim == 0)
		return CDB_VEMB_NONE;
	if (want_dim > 0 && dim != want_dim)
		return CDB_VEMB_DIM;
	for (i = 0; i < dim; i++) {
		if (!isfinite(v[i]))
			return CDB_VEMB_NONFINITE;
		zero &= v[i] == 0.0f;
	}
	return zero ? CDB_VEMB_ZERO : CDB_VEMB_OK;
}

static double
norm(const float *v, size_t dim)
{
	double s = 0;
	size_t i;

	for (i = 0; i < dim; i++)
		s += (double)v[i] * (double)v[i];
	return sqrt(s);
}

int
cdb_validate_emb_equal(
    const float *want, const float *got, size_t dim, int cosine, double *dev)
{
	double nw, ng, d, worst = 0;
	size_t i;

	if (!cosine) {
		/* Bits, not values: -0 and 0 differ, and so do NaNs. */
		for (i = 0; i < dim; i++) {
			d = fabs((double)want[i] - (double)got[i]);
			if (d > worst || isnan(d))
				worst = isnan(d) ? INFINITY : d;
		}
		*dev = worst;
		return memcmp(want, got, dim * sizeof(*want)) == 0;
	}
	nw = norm(want, dim);
	ng = norm(got, dim);
	if (nw == 0 || ng == 0 || !isfinite(nw) || !isfinite(ng)) {
		*dev = nw == ng ? 0 : INFINITY;
		return nw == 0 && ng == 0;
	}
	for (i = 0; i < dim; i++) {
		d = fabs((double)want[i] / nw - (double)got[i] / ng);
		if (d > worst)
			worst = d;
	}
	*dev = worst;
	return worst <= CDB_VALIDATE_COSINE_TOL;
}

int
cdb_validate_space(const json_t *conf)
{
	const char *sp = cdb_chroma_space(conf);

	if (sp != NULL && strcmp(sp, "cosine") == 0)
		return CDB_SPACE_COSINE;
	if (sp != NULL && strcmp(sp, "ip") == 0)
		return CDB_SPACE_IP;
	return CDB_SPACE_L2;
}

const char *
cdb_validate_space_name(int space)
{
	return space == CDB_SPACE_COSINE ? "cosine"
	       : space == CDB_SPACE_IP   ? "ip"
	                                 : "l2";
}

double
cdb_validate_distance(int space, const float *a, double na, const float *b,
    double nb, size_t dim)
{
	double dot;

	if (space == CDB_SPACE_L2)
		return cdb_validate_l2sq(a, b, dim);
	dot = cdb_validate_dot(a, b, dim);
	if (space == CDB_SPACE_IP)
		return 1 - dot;
	return na > 0 && nb > 0 ? 1 - dot / (na * nb) : 1;
}

/* --------------------------------------------------------- searches -- */

static int
listed(const char *id, char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(id, list[i]) == 0)
			return 1;
	return 0;
}

/* Results are top-k lists: a scan of the other list is cheap enough. */
double
cdb_validate_overlap(
    char *const *ref, size_t nref, char *const *got, size_t ngot)
{
	size_t i, hits = 0;

	if (nref == 0)
		return -1;
	/* A reference id counts once, even if listed twice. */
	for (i = 0; i < nref; i++)
		hits += listed(ref[i], got, ngot) && !listed(ref[i], ref, i);
	return (double)hits / (double)nref;
}

int
cdb_validate_threshold(double value, double warn, double fail)
{
	if (value > fail)
		return CDB_VS_FAILED;
	if (value > warn)
		return CDB_VS_WARNING;
	return CDB_VS_PASSED;
}

int
cdb_validate_verdict(const int *status, const int *reason, size_t n, int *why)
{
	int overall = CDB_VS_PASSED;
	size_t i;

	*why = CDB_VR_NONE;
	for (i = 0; i < n; i++) {
		if (status[i] == CDB_VS_FAILED) {
			overall = CDB_VS_FAILED;
			if (reason[i] != CDB_VR_NONE &&
			    (*why == CDB_VR_NONE || reason[i] < *why))
				*why = reason[i];
		} else if ((status[i] == CDB_VS_WARNING ||
		               status[i] == CDB_VS_SKIPPED) &&
		           overall == CDB_VS_PASSED)
			overall = CDB_VS_WARNING;
	}
	return overall;
}

/* ---------------------------------------------------------- content -- */

uint64_t
cdb_validate_content_digest(const json_t *doc, const float *emb, size_t dim)
{
	unsigned char tag;
	cdb_digest d;
	uint64_t n = dim;

	cdb_digest_init(&d);
	/* A tag keeps "no document" apart from an empty one. */
	tag = json_is_string(doc) ? 1 : 0;
	cdb_digest_update(&d, &tag, 1);
	if (tag)
		cdb_digest_update(
		    &d, json_string_value(doc), json_string_length(doc));
	cdb_digest_update(&d, &n, sizeof(n));
	if (emb != NULL)
		cdb_digest_update(&d, emb, dim * sizeof(*emb));
	return cdb_digest_value(&d);
}

/* --------------------------------------------------------- sampling -- */

/* splitmix64: small, fast, and the same on every platform. */
static uint64_t
next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void
cdb_vsampler_init(cdb_vsampler *s, long n, uint64_t seed)
{
	s->state = seed;
	s->n = n;
}

long
cdb_vsampler_offer(cdb_vsampler *s, long long seen)
{
	uint64_t j;

	if (s->n <= 0)
		return -1;
	if (seen < s->n)
		return (long)seen;
	j = next_rand(&s->state) % ((uint64_t)seen + 1);
	return j < (uint64_t)s->n ? (long)j : -1;
}

/* ------------------------------------------------------------ top k -- */

int
cdb_vtopk_init(cdb_vtopk *t, size_t k)
{
	t->k = k;
	t->n = 0;
	t->dist = calloc(k + 1, sizeof(*t->dist));
	t->id = calloc(k + 1, sizeof(*t->id));
	return t->dist && t->id ? 0 : -1;
}

void
cdb_vtopk_free(cdb_vtopk *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; t->id != NULL && i < t->n; i++)
		free(t->id[i]);
	free(t->id);
	free(t->dist);
	t->id = NULL;
	t->dist = NULL;
	t->n = 0;
}

/* Is entry a (distance da, id ia) nearer than b?  Ties by id. */
static int
nearer(double da, const char *ia, double db, const char *ib)
{
	return da < db || (da == db && strcmp(ia, ib) < 0);
}

int
cdb_vtopk_offer(cdb_vtopk *t, double d, const char *id, size_t len)
{
	size_t i;
	char *copy;

	/* The last is the farthest kept: most candidates stop here. */
	if (t->k == 0 || (t->n == t->k && !(d < t->dist[t->n - 1])))
		return 0;
	if ((copy = malloc(len + 1)) == NULL)
		return -1;
	memcpy(copy, id, len);
	copy[len] = '\0';
	if (t->n == t->k)
		free(t->id[--t->n]);
	for (i = t->n; i > 0 && nearer(d, copy, t->dist[i - 1], t->id[i - 1]);
	     i--) {
		t->dist[i] = t->dist[i - 1];
		t->id[i] = t->id[i - 1];
	}
	t->dist[i] = d;
	t->id[i] = copy;
	t->n++;
	return 0;
}

/*
 * Eight float lanes, summed in double at the end: the compiler keeps the
 * lanes in vector registers, which makes the brute-force search several
 * times faster than one double accumulator, at float precision per lane.
 */
#define LANES 8

double
cdb_validate_dot(const float *a, const float *b, size_t dim)
{
	float acc[LANES] = {0};
	double s = 0;
	size_t i, j;

	for (i = 0; i + LANES <= dim; i += LANES)
		for (j = 0; j < LANES; j++)
			acc[j] += a[i + j] * b[i + j];
	for (; i < dim; i++)
		s += (double)a[i] * (double)b[i];
	for (j = 0; j < LANES; j++)
		s += acc[j];
	return s;
}

double
cdb_validate_l2sq(const float *a, const float *b, size_t dim)
{
	float acc[LANES] = {0}, d;
	double s = 0, e;
	size_t i, j;

	for (i = 0; i + LANES <= dim; i += LANES)
		for (j = 0; j < LANES; j++) {
			d = a[i + j] - b[i + j];
			acc[j] += d * d;
		}
	for (; i < dim; i++) {
		e = (double)a[i] - (double)b[i];
		s += e * e;
	}
	for (j = 0; j < LANES; j++)
		s += acc[j];
	return s;
}

/* -------------------------------------------------------- citations -- */

/* One piece of a template: literal text, {id} or {collection}. */
enum { P_LIT, P_ID, P_COLL };

/*
 * Render template with collection coll into out, stopping at {id}:
 * part 0 is before it, part 1 after.  Returns the number of {id} seen,
 * or -1 for a field other than id and collection.
 */
static int
render_side(const char *tpl, const char *coll, int side, char *out, size_t cap,
    size_t *len)
{
	const char *s = tpl, *end;
	int ids = 0;

	*len = 0;
	while (*s != '\0') {
		const char *piece = s;
		size_t plen = 1;
		if ((*s == '{' && s[1] == '{') || (*s == '}' && s[1] == '}'))
			s += 2;
		else if (*s == '{') {
			if ((end = strchr(s, '}')) == NULL)
				return -1;
			plen = (size_t)(end - s - 1);
			if (plen == 2 && strncmp(s + 1, "id", 2) == 0) {
				ids++;
				s = end + 1;
				continue;
			}
			if (plen != 10 || strncmp(s + 1, "collection", 10) != 0)
				return -1;
			piece = coll;
			plen = strlen(coll);
			s = end + 1;
		} else
			s++;
		if ((ids == 0) != (side == 0) || ids > 1)
			continue;
		if (*len + plen >= cap)
			return -1;
		memcpy(out + *len, piece, plen);
		*len += plen;
	}
	return ids;
}

int
cdb_validate_cite_parse(const char *tpl, const char *value, size_t len,
    const char *const *colls, size_t ncolls, size_t self_coll, size_t *coll,
    size_t *id_off, size_t *id_len)
{
	char pre[1024], post[1024];
	size_t i, lp, ls;
	int uses_coll = strstr(tpl, "{collection}") != NULL;
	int n;

	for (i = 0; i < ncolls; i++) {
		if (!uses_coll && i != self_coll)
			continue;
		if ((n = render_side(
		         tpl, colls[i], 0, pre, sizeof(pre), &lp)) != 1 ||
		    render_side(tpl, colls[i], 1, post, sizeof(post), &ls) != 1)
			return -1;
		if (len < lp + ls + 1 || memcmp(value, pre, lp) != 0 ||
		    memcmp(value + len - ls, post, ls) != 0)
			continue;
		*coll = i;
		*id_off = lp;
		*id_len = len - lp - ls;
		return 1;
	}
	return 0;
}
