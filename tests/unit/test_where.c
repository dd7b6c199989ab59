/* Metadata conditions: what they match, and what is refused on load. */
#include <check.h>
#include <string.h>

#include "where.h"

static int
match(const char *cond, const char *meta)
{
	json_t *c = json_loads(cond, 0, NULL), *m = json_loads(meta, 0, NULL);
	cdb_error e;
	int r;

	ck_assert_msg(c != NULL && m != NULL, "bad test input");
	cdb_error_clear(&e);
	ck_assert_msg(cdb_where_check(c, "w", &e) == 0, "%s: %s", cond, e.text);
	r = cdb_where_match(c, m);
	json_decref(c);
	json_decref(m);
	return r;
}

static void
refused(const char *cond, const char *msg)
{
	json_t *c = json_loads(cond, JSON_DECODE_ANY, NULL);
	cdb_error e;

	cdb_error_clear(&e);
	ck_assert_int_eq(cdb_where_check(c, "from[0].where", &e), -1);
	ck_assert_str_eq(e.text, msg);
	json_decref(c);
}

START_TEST(test_match)
{
	const char *m = "{\"kind\":\"joke\",\"n\":3,\"x\":2.5,\"tags\":[\"a\","
	                "\"b\"],\"d\":\"2024-05-01\",\"ok\":true}";

	ck_assert(match("{\"kind\":\"joke\"}", m));
	ck_assert(!match("{\"kind\":\"quote\"}", m));
	ck_assert(match("{\"n\":3.0}", m)); /* ints and reals by value */
	ck_assert(match("{\"n\":{\"$gte\":3,\"$lt\":4}}", m));
	ck_assert(!match("{\"n\":{\"$gt\":3}}", m));
	ck_assert(match("{\"x\":{\"$lte\":2.5}}", m));
	ck_assert(match("{\"d\":{\"$gte\":\"2024-01-01\"}}", m));
	ck_assert(!match("{\"d\":{\"$gt\":5}}", m)); /* cannot order */
	ck_assert(match("{\"kind\":{\"$in\":[\"quote\",\"joke\"]}}", m));
	ck_assert(match("{\"kind\":{\"$nin\":[\"quote\"]}}", m));
	ck_assert(match("{\"kind\":{\"$ne\":\"quote\"}}", m));
	ck_assert(match("{\"tags\":{\"$contains\":\"b\"}}", m));
	ck_assert(match("{\"kind\":{\"$contains\":\"ok\"}}", m));
	ck_assert(!match("{\"tags\":{\"$contains\":\"c\"}}", m));
	ck_assert(match("{\"ok\":true}", m));
	ck_assert(match("{\"kind\":\"joke\",\"n\":3}", m));
	ck_assert(!match("{\"kind\":\"joke\",\"n\":4}", m));
	ck_assert(match("{\"$or\":[{\"n\":4},{\"kind\":\"joke\"}]}", m));
	ck_assert(!match("{\"$and\":[{\"n\":3},{\"kind\":\"x\"}]}", m));
	/* A key the record lacks: false, but for $exists false. */
	ck_assert(!match("{\"gone\":{\"$ne\":1}}", m));
	ck_assert(!match("{\"gone\":{\"$nin\":[1]}}", m));
	ck_assert(match("{\"gone\":{\"$exists\":false}}", m));
	ck_assert(match("{\"kind\":{\"$exists\":true}}", m));
}
END_TEST

START_TEST(test_refused)
{
	refused("[]", "from[0].where: expected a non-empty object");
	refused("{}", "from[0].where: expected a non-empty object");
	refused("{\"$not\":{}}", "from[0].where: unknown operator \"$not\"");
	refused("{\"k\":{\"$regex\":\"x\"}}",
	    "from[0].where.k: unknown operator \"$regex\"");
	refused("{\"k\":{}}", "from[0].where.k: empty condition");
	refused("{\"k\":null}",
	    "from[0].where.k: expected a value or an object of operators");
	refused("{\"k\":{\"$in\":[]}}",
	    "from[0].where.k.$in: expected a non-empty array");
	refused("{\"k\":{\"$in\":[{}]}}",
	    "from[0].where.k.$in: expected strings, numbers or booleans");
	refused("{\"k\":{\"$gt\":true}}",
	    "from[0].where.k.$gt: expected a number or a string");
	refused("{\"k\":{\"$exists\":1}}",
	    "from[0].where.k.$exists: expected true or false");
	refused("{\"$or\":{}}",
	    "from[0].where.$or: expected a non-empty array of conditions");
	refused("{\"$and\":[{\"a\":1},{\"b\":[1]}]}",
	    "from[0].where.$and[1].b: expected a value or an object of "
	    "operators");
}
END_TEST

Suite *
where_suite(void)
{
	Suite *s = suite_create("where");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_match);
	tcase_add_test(tc, test_refused);
	suite_add_tcase(s, tc);
	return s;
}
