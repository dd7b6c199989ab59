/* Known answers computed with the reference xxhsum -H1 tool. */
#include <check.h>
#include <string.h>

#include "digest.h"

static const struct {
	size_t n;
	unsigned long long want;
} vec[] = {
	{0, 0xef46db3751d8e999ULL}, {1, 0x1f25c8d0bc1f4bb6ULL},
	{3, 0x31d2363f52e564c9ULL}, {4, 0x9bb64b7d66ee9fdaULL},
	{7, 0x9a7b149959ce60d8ULL}, {8, 0xdab99d95c6f90092ULL},
	{12, 0xd52e407833af5133ULL}, {31, 0xa2aa5f33cc4a6119ULL},
	{32, 0x23c3c17ef790fd97ULL}, {33, 0x50a7cfc7ba588784ULL},
	{63, 0xf1438f15b9ed16e9ULL}, {64, 0x2cd990a1beed6894ULL},
	{100, 0x778e26df8290f456ULL}, {1000, 0x021f7a7424085ea4ULL},
	{4097, 0x6cfb7c8197d110feULL},
};

static unsigned char data[4097];

static void
fill(void)
{
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)((i * 7 + 3) % 251);
}

START_TEST(test_known_answers)
{
	cdb_digest d;

	fill();
	cdb_digest_init(&d);
	cdb_digest_update(&d, data, vec[_i].n);
	ck_assert_uint_eq(cdb_digest_value(&d), vec[_i].want);
}
END_TEST

/* Any split of the input into updates gives the one-shot answer. */
START_TEST(test_split_updates)
{
	cdb_digest d;
	size_t off, step;

	fill();
	for (step = 1; step < 70; step += 3) {
		cdb_digest_init(&d);
		for (off = 0; off < 4097; off += step)
			cdb_digest_update(&d, data + off,
			    4097 - off < step ? 4097 - off : step);
		ck_assert_uint_eq(cdb_digest_value(&d), 0x6cfb7c8197d110feULL);
	}
}
END_TEST

START_TEST(test_format)
{
	cdb_digest d;
	char out[23];

	cdb_digest_init(&d);
	cdb_digest_update(&d, "abc", 3);
	cdb_digest_format(&d, out);
	ck_assert_str_eq(out, "xxh64:44bc2cf5ad770999");
}
END_TEST

Suite *
digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("xxh64");

	tcase_add_loop_test(tc, test_known_answers, 0,
	    (int)(sizeof(vec) / sizeof(vec[0])));
	tcase_add_test(tc, test_split_updates);
	tcase_add_test(tc, test_format);
	suite_add_tcase(s, tc);
	return s;
}
