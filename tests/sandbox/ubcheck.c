/* ubcheck: resolve names through libunbound with the sandbox's unbound.conf and print the
 * DNSSEC status. Used by selftest.sh (built on the fly with: cc -o ubcheck ubcheck.c -lunbound).
 *   ubcheck CONF NAME TYPE [NAME TYPE ...]
 * prints one line per query: NAME TYPE secure|insecure|bogus rcode=N havedata=0|1 nxdomain=0|1 [why]
 * exit status 0 unless a query could not be made at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unbound.h>

static int type_of(const char *s)
{
	static const struct { const char *n; int t; } tab[] = {
		{"A", 1}, {"NS", 2}, {"CNAME", 5}, {"SOA", 6}, {"MX", 15}, {"TXT", 16},
		{"AAAA", 28}, {"DS", 43}, {"DNSKEY", 48}, {"TLSA", 52},
	};
	for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
		if (strcasecmp(tab[i].n, s) == 0)
			return tab[i].t;
	return atoi(s);
}

int main(int argc, char **argv)
{
	if (argc < 4 || (argc - 2) % 2) {
		fprintf(stderr, "usage: ubcheck CONF NAME TYPE [NAME TYPE ...]\n");
		return 2;
	}
	struct ub_ctx *ctx = ub_ctx_create();
	int r = ub_ctx_config(ctx, argv[1]);
	if (r) {
		fprintf(stderr, "ub_ctx_config: %s\n", ub_strerror(r));
		return 2;
	}
	for (int i = 2; i + 1 < argc; i += 2) {
		struct ub_result *res = NULL;
		r = ub_resolve(ctx, argv[i], type_of(argv[i + 1]), 1, &res);
		if (r) {
			fprintf(stderr, "ub_resolve %s: %s\n", argv[i], ub_strerror(r));
			return 2;
		}
		printf("%s %s %s rcode=%d havedata=%d nxdomain=%d%s%s\n", argv[i], argv[i + 1],
		       res->secure ? "secure" : res->bogus ? "bogus" : "insecure", res->rcode,
		       res->havedata, res->nxdomain, res->why_bogus ? " why=" : "",
		       res->why_bogus ? res->why_bogus : "");
		ub_resolve_free(res);
	}
	ub_ctx_delete(ctx);
	return 0;
}
