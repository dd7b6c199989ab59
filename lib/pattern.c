/* pattern.c - schema patterns (bottom layer of the schema); see pattern.h. */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cdb.h"
#include "pattern.h"

struct cdb_pattern {
	regex_t re;
};

/* The scan of a pattern: where it is, and the first fault found. */
struct scan {
	const char *s, *p;
	char *why;
	size_t n;
	int bad;
};

static unsigned long scan_alt(struct scan *c, int depth);

static unsigned long
refuse(struct scan *c, const char *what)
{
	if (!c->bad)
		snprintf(c->why, c->n, "%s at offset %ld", what,
		    (long)(c->p - c->s));
	c->bad = 1;
	return 0;
}

/* a * b, saturating at the limit. */
static unsigned long
mul(unsigned long a, unsigned long b)
{
	if (a != 0 && b > (CDB_PATTERN_MAX_COST + 1UL) / a)
		return CDB_PATTERN_MAX_COST + 1UL;
	return a * b;
}

static unsigned long
add(unsigned long a, unsigned long b)
{
	return a + b > CDB_PATTERN_MAX_COST ? CDB_PATTERN_MAX_COST + 1UL
	                                    : a + b;
}

/* Skip a bracket expression "[...]" opening at c->p. */
static void
scan_bracket(struct scan *c)
{
	c->p++;
	if (*c->p == '^')
		c->p++;
	if (*c->p == ']')
		c->p++;
	while (*c->p != '\0' && *c->p != ']') {
		/* [:class:], [=x=], [.x.] may hold a ']'. */
		if (c->p[0] == '[' &&
		    (c->p[1] == ':' || c->p[1] == '=' || c->p[1] == '.')) {
			const char *q = c->p + 2;
			while (*q != '\0' && !(q[0] == c->p[1] && q[1] == ']'))
				q++;
			if (*q == '\0')
				break;
			c->p = q + 2;
			continue;
		}
		c->p++;
	}
	/* An unmatched [ is left to regcomp, which names it. */
	if (*c->p != '\0')
		c->p++;
}

/* "{m}", "{m,}" or "{m,n}" at c->p: the count it repeats up to, or 0. */
static unsigned long
interval(struct scan *c)
{
	const char *q = c->p + 1;
	unsigned long m = 0, v = 0;
	int digits = 0;

	while (*q >= '0' && *q <= '9' && digits < 6) {
		m = m * 10 + (unsigned long)(*q++ - '0');
		digits++;
	}
	if (digits == 0)
		return 0;
	v = m;
	if (*q == ',') {
		q++;
		/* {m,} repeats without bound: as costly as one more copy. */
		v = m + 1;
		if (*q >= '0' && *q <= '9') {
			for (v = 0, digits = 0;
			     *q >= '0' && *q <= '9' && digits < 6; digits++)
				v = v * 10 + (unsigned long)(*q++ - '0');
		}
	}
	if (*q != '}')
		return 0;
	c->p = q + 1;
	return v > 0 ? v : 1;
}

/* One atom at c->p: its cost. */
static unsigned long
scan_atom(struct scan *c, int depth)
{
	unsigned long cost;

	switch (*c->p) {
	case '(':
		if (depth >= 100)
			return refuse(c, "groups nested too deep");
		c->p++;
		cost = scan_alt(c, depth + 1);
		/* An unmatched ( is left to regcomp, which names it. */
		if (*c->p == ')')
			c->p++;
		return add(cost, 1);
	case '[':
		scan_bracket(c);
		return 1;
	case '\\':
		c->p++;
		if (*c->p >= '1' && *c->p <= '9')
			return refuse(c, "a back-reference is not POSIX ERE");
		if (*c->p == '\0' || strchr("^.[]$()|*+?{}\\", *c->p) == NULL)
			return refuse(c, "an escape of an ordinary character "
			                 "is not POSIX ERE");
		c->p++;
		return 1;
	default:
		c->p++;
		return 1;
	}
}

/* A branch: pieces up to '|', ')' or the end. */
static unsigned long
scan_branch(struct scan *c, int depth)
{
	unsigned long cost = 0, piece, k;

	while (!c->bad && *c->p != '\0' && *c->p != '|' && *c->p != ')') {
		piece = scan_atom(c, depth);
		for (;;) {
			if (*c->p == '*' || *c->p == '?')
				c->p++;
			else if (*c->p == '+') {
				c->p++;
				piece = mul(piece, 2);
			} else if (*c->p == '{' && (k = interval(c)) > 0)
				piece = mul(piece, k);
			else
				break;
		}
		cost = add(cost, piece);
	}
	return cost;
}

static unsigned long
scan_alt(struct scan *c, int depth)
{
	unsigned long cost = scan_branch(c, depth);

	while (!c->bad && *c->p == '|') {
		c->p++;
		cost = add(cost, scan_branch(c, depth));
	}
	return cost;
}

/* The pattern's faults that regcomp lets through or is slow on. */
static int
check(const char *pat, char *why, size_t n)
{
	struct scan c = {pat, pat, why, n, 0};
	unsigned long cost = scan_alt(&c, 0);

	if (!c.bad && *c.p == ')')
		refuse(&c, "unmatched )");
	if (c.bad)
		return -1;
	if (cost > CDB_PATTERN_MAX_COST) {
		snprintf(why, n,
		    "too costly: counting each {m,n} as n copies of what it "
		    "repeats, the pattern has more than %d parts",
		    CDB_PATTERN_MAX_COST);
		return -1;
	}
	return 0;
}

static int
compile(regex_t *re, const char *pat, char *why, size_t n)
{
	int rc = regcomp(re, pat, REG_EXTENDED | REG_NOSUB);

	if (rc != 0) {
		char msg[200];
		regerror(rc, re, msg, sizeof(msg));
		snprintf(why, n, "bad regular expression: %s", msg);
		return -1;
	}
	return 0;
}

cdb_pattern *
cdb_pattern_new(const char *pat, char *why, size_t n)
{
	cdb_pattern *p = NULL;
	regex_t alone;
	cdb_buf b;

	/* On its own first: anchoring must not change its structure. */
	if (check(pat, why, n) == -1 || compile(&alone, pat, why, n) == -1)
		return NULL;
	regfree(&alone);
	cdb_buf_init(&b);
	if (cdb_buf_printf(&b, "^(%s)$", pat) == -1 ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		if (n > 0)
			why[0] = '\0';
	} else if (compile(&p->re, b.data, why, n) == -1) {
		free(p);
		p = NULL;
	}
	cdb_buf_free(&b);
	return p;
}

void
cdb_pattern_free(cdb_pattern *p)
{
	if (p == NULL)
		return;
	regfree(&p->re);
	free(p);
}

int
cdb_pattern_match(const cdb_pattern *p, const char *s, size_t len)
{
	if (memchr(s, '\0', len) != NULL)
		return 0;
	return regexec(&p->re, s, 0, NULL, 0) == 0;
}
