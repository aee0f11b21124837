/* SPDX-License-Identifier: MIT */
/* fuzz/fuzz_conf.c — libFuzzer target for the configuration file (libinih and the checks of
 * src/conf.c): the input is the file. A file that loads has every provider section named
 * and typed with a known type, and its values within their documented ranges. */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	char path[64];
	struct mx_conf *c = NULL;
	struct mx_err err;
	int rc;

	if (fd < 0 && (fd = memfd_create("config", 0)) < 0)
		abort();
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	mx_err_clear(&err);
	rc = mx_conf_load(path, true, &c, &err);
	fz_check_err(rc, &err);
	if (rc == MX_OK) {
		if (!c || !c->endpoint_suffix || c->low_ttl <= 0 || c->final_ttl <= 0)
			abort();
		for (size_t i = 0; i < c->nprov; i++) {
			const struct mx_conf_section *s = &c->prov[i];
			bool known = false;

			if (!s->name || !s->type || mx_conf_provider(c, s->name) == NULL)
				abort();
			for (size_t k = 0; mx_conf_provider_types[k]; k++)
				known |= !strcmp(mx_conf_provider_types[k], s->type);
			if (!known)
				abort();
			for (size_t k = 0; k < s->nkv; k++)
				if (!s->kv[k].key || !s->kv[k].value ||
				    mx_conf_get(s, s->kv[k].key) == NULL)
					abort();
		}
		mx_conf_is_legacy(c, "contoso-com.mail.protection.outlook.com");
	} else if (c) {
		abort();
	}
	mx_conf_free(c);
	return 0;
}
