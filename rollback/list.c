/*
 * list.c - cdb-rollback list: a snapshot's manifest, as a table or as
 * the JSON it is.
 */
#include <err.h>
#include <stdio.h>

#include "chroma.h"
#include "cmd.h"
#include "snapshot.h"

static void
print_collections(const json_t *m)
{
	const char *space;
	json_t *c, *dim;
	char d[24];
	size_t i;

	printf("%-32s %10s %6s %-7s %12s  %s\n", "COLLECTION", "RECORDS", "DIM",
	    "SPACE", "BYTES", "DIGEST");
	json_array_foreach (json_object_get(m, "collections"), i, c) {
		dim = json_object_get(c, "dimension");
		snprintf(
		    d, sizeof(d), "%lld", (long long)json_integer_value(dim));
		space = cdb_chroma_space(json_object_get(c, "configuration"));
		printf("%-32s %10lld %6s %-7s %12lld  %s\n",
		    rb_field(c, "name"),
		    (long long)json_integer_value(json_object_get(c, "count")),
		    json_is_integer(dim) ? d : "-", space ? space : "-",
		    (long long)json_integer_value(json_object_get(c, "bytes")),
		    rb_field(c, "digest"));
	}
}

static void
print_manifest(const char *path, const json_t *m)
{
	printf("snapshot     %s\n", path);
	printf("created      %s by %s\n", rb_field(m, "created"),
	    rb_field(m, "tool"));
	printf("server       %s (tenant %s, database %s)\n",
	    rb_field(m, "server"), rb_field(m, "tenant"),
	    rb_field(m, "database"));
	printf("contents     %zu collections (%s), %lld records, embeddings "
	       "%s, %s\n",
	    json_array_size(json_object_get(m, "collections")),
	    rb_field(m, "scope"),
	    (long long)json_integer_value(json_object_get(m, "records")),
	    rb_field(m, "embeddings"), rb_field(m, "compression"));
	putchar('\n');
	print_collections(m);
}

int
rb_list(int argc, char *argv[])
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path;
	cdb_error e;
	json_t *m;
	int json = 0;

	path = rb_one_file(argc, argv, "h", longopts, &json);
	cdb_error_clear(&e);
	if ((m = cdb_snapshot_read(path, NULL, NULL, NULL, &e)) == NULL)
		errx(CDB_EXIT_FAIL, "%s", e.text);
	if (json) {
		json_dumpf(m, stdout, JSON_INDENT(2));
		putchar('\n');
	} else
		print_manifest(path, m);
	json_decref(m);
	rb_flush_stdout();
	return CDB_EXIT_OK;
}
