/* SPDX-License-Identifier: MIT */
/* src/rrset.c — the canonical RRset as JSON. */
#include "rrset.h"

#include <stdint.h>
#include <string.h>

json_t *mx_rrset_json(const struct mx_rrset *s)
{
	json_t *v = json_array();

	/* A value JSON cannot carry (not UTF-8) fails the whole RRset: never a silent loss. */
	for (size_t i = 0; v && i < s->n; i++) {
		if (json_array_append_new(v, json_string(s->values[i]))) {
			json_decref(v);
			return NULL;
		}
	}
	if (!v)
		return NULL;
	return json_pack("{s:s,s:s,s:I,s:o}", "name", s->name, "type",
	    s->type == DNS_T_MX ? "MX" : "TXT", "ttl", (json_int_t)s->ttl, "values", v);
}

char *mx_rrset_dumps(const struct mx_rrset *s)
{
	json_t *j = mx_rrset_json(s);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return text;
}

int mx_rrset_from_json(json_t *j, struct mx_rrset *out, struct mx_err *err)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	const char *type = json_string_value(json_object_get(j, "type"));
	json_t *values = json_object_get(j, "values"), *v;
	json_t *ttl = json_object_get(j, "ttl");
	size_t i;
	unsigned pref;
	char host[256];

	memset(out, 0, sizeof(*out));
	if (!name || strlen(name) >= sizeof(out->name) || !type ||
	    (strcmp(type, "MX") && strcmp(type, "TXT")) || !json_is_array(values) ||
	    (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
			json_integer_value(ttl) > INT32_MAX)))
		return mx_err_set(err, MX_EINVAL, "an RRset in the journal or plan is malformed");
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->type = !strcmp(type, "MX") ? DNS_T_MX : DNS_T_TXT;
	out->ttl = (uint32_t)json_integer_value(ttl);
	json_array_foreach(values, i, v)
	{
		if (!json_is_string(v) ||
		    (out->type == DNS_T_MX &&
			!prov_mx_parse(json_string_value(v), &pref, host, sizeof(host))) ||
		    prov_rrset_add(out, json_string_value(v), err)) {
			prov_rrset_clear(out);
			return mx_err_set(err, MX_EINVAL, "an RRset value is malformed");
		}
	}
	prov_rrset_sort(out);
	return MX_OK;
}

int mx_rrset_loads(const char *text, struct mx_rrset *out, struct mx_err *err)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	int rc;

	if (!j) {
		memset(out, 0, sizeof(*out));
		return mx_err_set(err, MX_EINVAL, "an RRset in the journal is not JSON");
	}
	rc = mx_rrset_from_json(j, out, err);
	json_decref(j);
	return rc;
}
