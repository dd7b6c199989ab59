/*
 * The Huffman-only gzip writer, read back by two independent inflaters:
 * libarchive's gzip filter (zlib) and GNU gzip(1), which has its own.
 */
#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdb.h"
#include "gzip.h"

static int
to_buf(void *arg, const void *p, size_t n, cdb_error *e)
{
	(void)e;
	return cdb_buf_append(arg, p, n);
}

/* Compress p in pieces of step bytes. */
static void
compress(const unsigned char *p, size_t n, size_t step, cdb_buf *out)
{
	cdb_error e;
	cdb_gzip *z;
	size_t off, k;

	cdb_error_clear(&e);
	cdb_buf_init(out);
	ck_assert_ptr_nonnull(z = cdb_gzip_new(to_buf, out, &e));
	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		ck_assert_int_eq(cdb_gzip_write(z, p + off, k, &e), 0);
	}
	ck_assert_int_eq(cdb_gzip_finish(z, &e), 0);
	cdb_gzip_free(z);
}

static void
check_libarchive(const cdb_buf *gz, const unsigned char *p, size_t n)
{
	struct archive *a = archive_read_new();
	struct archive_entry *en;
	unsigned char *got = malloc(n + 1);
	size_t have = 0;
	la_ssize_t r;
	int rc;

	ck_assert_ptr_nonnull(got);
	archive_read_support_filter_gzip(a);
	archive_read_support_format_raw(a);
	rc = archive_read_open_memory(a, gz->data, gz->len);
	/* libarchive's raw reader finds no format in nothing, even in GNU
	 * gzip's own empty member; gzip(1) checks that one. */
	if (n == 0 && rc == ARCHIVE_FATAL) {
		archive_read_free(a);
		free(got);
		return;
	}
	ck_assert_int_eq(rc, ARCHIVE_OK);
	ck_assert_int_eq(rc = archive_read_next_header(a, &en), ARCHIVE_OK);
	while (rc == ARCHIVE_OK &&
	       (r = archive_read_data(a, got + have, n + 1 - have)) > 0)
		have += (size_t)r;
	ck_assert_msg(r == 0 || rc != ARCHIVE_OK, "libarchive: %s",
	    archive_error_string(a));
	ck_assert_uint_eq(have, n);
	ck_assert(memcmp(got, p, n) == 0);
	archive_read_free(a);
	free(got);
}

static void
check_gzip_tool(const cdb_buf *gz, const unsigned char *p, size_t n)
{
	char path[] = "/tmp/cdb-gzip-test.XXXXXX", cmd[128];
	unsigned char *got = malloc(n + 1);
	size_t have = 0, r;
	FILE *f;
	int fd;

	ck_assert_ptr_nonnull(got);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, gz->data, gz->len), (ssize_t)gz->len);
	close(fd);
	snprintf(cmd, sizeof(cmd), "gzip -dc < %s", path);
	ck_assert_ptr_nonnull(f = popen(cmd, "r"));
	while ((r = fread(got + have, 1, n + 1 - have, f)) > 0)
		have += r;
	ck_assert_int_eq(pclose(f), 0);
	unlink(path);
	ck_assert_uint_eq(have, n);
	ck_assert(memcmp(got, p, n) == 0);
	free(got);
}

static void
round_trip(const unsigned char *p, size_t n, size_t step)
{
	cdb_buf gz;
	uint32_t crc = cdb_gzip_crc32(0, p, n);

	compress(p, n, step, &gz);
	ck_assert_uint_ge(gz.len, 18);
	ck_assert_int_eq((unsigned char)gz.data[0], 0x1f);
	ck_assert_int_eq((unsigned char)gz.data[1], 0x8b);
	ck_assert_int_eq((unsigned char)gz.data[2], 8);
	/* The trailer: CRC-32 and size, little-endian. */
	ck_assert_uint_eq(
	    (uint32_t)(unsigned char)gz.data[gz.len - 8] |
	        (uint32_t)(unsigned char)gz.data[gz.len - 7] << 8 |
	        (uint32_t)(unsigned char)gz.data[gz.len - 6] << 16 |
	        (uint32_t)(unsigned char)gz.data[gz.len - 5] << 24,
	    crc);
	ck_assert_uint_eq((unsigned char)gz.data[gz.len - 4], n & 0xff);
	check_libarchive(&gz, p, n);
	check_gzip_tool(&gz, p, n);
	cdb_buf_free(&gz);
}

static uint64_t rng = 88172645463325252ULL;

static unsigned
next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 32);
}

START_TEST(test_crc32)
{
	const char *s = "123456789";
	uint32_t c = 0;
	size_t i;

	ck_assert_uint_eq(cdb_gzip_crc32(0, "", 0), 0);
	ck_assert_uint_eq(cdb_gzip_crc32(0, "a", 1), 0xe8b7be43u);
	ck_assert_uint_eq(cdb_gzip_crc32(0, s, 9), 0xcbf43926u);
	for (i = 0; i < 9; i++)
		c = cdb_gzip_crc32(c, s + i, 1);
	ck_assert_uint_eq(c, 0xcbf43926u);
}
END_TEST

START_TEST(test_small)
{
	static const unsigned char all[256] = {0};
	unsigned char b[256];
	int i;

	round_trip((const unsigned char *)"", 0, 1);
	round_trip((const unsigned char *)"x", 1, 1);
	round_trip(all, sizeof(all), 7);
	for (i = 0; i < 256; i++)
		b[i] = (unsigned char)i;
	round_trip(b, sizeof(b), 256);
}
END_TEST

/* One repeated byte over several blocks: a one-literal tree each. */
START_TEST(test_one_symbol)
{
	size_t n = 700000;
	unsigned char *p = malloc(n);

	memset(p, 'A', n);
	round_trip(p, n, 65536);
	free(p);
}
END_TEST

/* Random bytes: no gain possible, and no more than a little loss. */
START_TEST(test_random)
{
	size_t n = 600001, i;
	unsigned char *p = malloc(n);
	cdb_buf gz;

	for (i = 0; i < n; i++)
		p[i] = (unsigned char)next();
	round_trip(p, n, 100003);
	compress(p, n, n, &gz);
	ck_assert_uint_le(gz.len, n + n / 100 + 1024);
	cdb_buf_free(&gz);
	free(p);
}
END_TEST

/* What snapshots hold: base64 lines compress to about 3/4. */
START_TEST(test_base64_text)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = 1u << 20, i;
	unsigned char *p = malloc(n);
	cdb_buf gz;

	for (i = 0; i < n; i++)
		p[i] =
		    i % 2049 == 2048 ? '\n' : (unsigned char)b64[next() & 63];
	round_trip(p, n, 4096);
	compress(p, n, n, &gz);
	ck_assert_uint_lt(gz.len, n * 78 / 100);
	cdb_buf_free(&gz);
	free(p);
}
END_TEST

/*
 * With end-of-block's 1, weights 1, 1, 2, 3, 5, ... (byte k appearing
 * fib(k + 2) times) make a Huffman tree 24 deep, in one block; deflate
 * allows 15, so the writer must flatten it.
 */
START_TEST(test_deep_tree)
{
	size_t n = 0, f0 = 1, f1 = 2, t, i, k;
	unsigned char *p = malloc(200000);

	for (k = 0; k < 24; k++) {
		for (i = 0; i < f0; i++)
			p[n++] = (unsigned char)(k * 9);
		t = f0 + f1;
		f0 = f1;
		f1 = t;
	}
	ck_assert_uint_le(n, 200000);
	round_trip(p, n, n);
	free(p);
}
END_TEST

static int
failing(void *arg, const void *p, size_t n, cdb_error *e)
{
	(void)arg, (void)p, (void)n;
	return cdb_error_set(e, CDB_ERR_SYS, "disk full");
}

START_TEST(test_sink_error)
{
	cdb_error e;
	cdb_gzip *z;
	unsigned char *p = calloc(1, 300000);

	cdb_error_clear(&e);
	ck_assert_ptr_nonnull(z = cdb_gzip_new(failing, NULL, &e));
	ck_assert_int_eq(cdb_gzip_write(z, p, 300000, &e), -1);
	ck_assert_str_eq(e.text, "disk full");
	cdb_gzip_free(z);
	cdb_gzip_free(NULL);
	free(p);
}
END_TEST

Suite *
gzip_suite(void)
{
	Suite *s = suite_create("gzip");
	TCase *tc = tcase_create("gzip");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_small);
	tcase_add_test(tc, test_one_symbol);
	tcase_add_test(tc, test_random);
	tcase_add_test(tc, test_base64_text);
	tcase_add_test(tc, test_deep_tree);
	tcase_add_test(tc, test_sink_error);
	suite_add_tcase(s, tc);
	return s;
}
