/* rules.c - Chroma's rules for a target; see rules.h. */
#include <arpa/inet.h>
#include <string.h>

#include "rules.h"

static int
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

int
cdb_rules_collection_name(const char *name, cdb_error *e)
{
	size_t i, n = strlen(name);
	struct in_addr a;

	/* validators.rs: ^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$ */
	for (i = 0; i < n; i++)
		if (!alnum(name[i]) && strchr("._-", name[i]) == NULL)
			break;
	if (n < 3 || n > 512 || i < n || !alnum(name[0]) ||
	    !alnum(name[n - 1]))
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "collection name \"%s\" is not one Chroma accepts: 3 to 512 "
		    "characters from [a-zA-Z0-9._-], starting and ending with a "
		    "letter or digit",
		    name);
	if (strstr(name, "..") != NULL)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "collection name \"%s\" holds \"..\", which Chroma refuses",
		    name);
	if (inet_pton(AF_INET, name, &a) == 1)
		return cdb_error_set(e, CDB_ERR_INPUT,
		    "collection name \"%s\" is an IP address, which Chroma "
		    "refuses",
		    name);
	return 0;
}

int
cdb_rules_record(const cdb_item *it, const cdb_rules_caps *caps,
    cdb_error *e)
{
	const char *k;
	json_t *v;

	if (!json_is_object(it->metadata))
		return 0;
	json_object_foreach(it->metadata, k, v)
	{
		if (*k == '$')
			return cdb_error_setl(e, it->line,
			    "metadata key \"%s\" starts with '$', which Chroma "
			    "refuses",
			    k);
		if (json_is_array(v) && !caps->arrays)
			return cdb_error_setl(e, it->line,
			    "metadata \"%s\" is an array, which the target "
			    "cannot store (its pre-flight answer has no "
			    "supports_base64_encoding, as Chroma 1.0 servers)",
			    k);
	}
	return 0;
}
