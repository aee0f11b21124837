/* SPDX-License-Identifier: MIT */
/* tests/e2e_engine.c — the engine API as a front end drives it, against the sandbox: two runs
 * on one loop; one is stopped, forgotten and resumed while the other goes on; both reach the
 * end state, each zone's MX is the target alone. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "engine.h"
#include "loop.h"

static char *mkzone(const char *name)
{
	char cmd[512], *line = NULL;
	size_t cap = 0;
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "\"$MX_SANDBOX_TOOLS/mkzone\" %s --mtasts none", name);
	fp = popen(cmd, "r");
	if (!fp || getline(&line, &cap, fp) < 0) {
		free(line);
		line = NULL;
	}
	if (fp)
		pclose(fp);
	if (line)
		line[strcspn(line, "\n")] = '\0';
	return line;
}

static void drive(struct mx_engine *e, struct mx_loop *loop, struct mx_clock *clock, int units)
{
	struct mx_err err;
	time_t wake;

	/* At most `units` units of work, or until every run has stopped. */
	for (int i = 0; i < units && !mx_engine_idle(e); i++) {
		int rc = mx_engine_step(e, &wake, &err), fds[8], n = mx_engine_fds(e, fds, 8);

		if (rc == MX_EAGAIN) {
			if (!mx_engine_io_pending(e) && mx_clock_warp_to(clock, wake))
				continue;
			mx_loop_once(loop, fds, n, 1000, NULL);
		}
	}
}

static void check_mx(const char *zone, const char *want)
{
	char cmd[512], got[512] = "";
	FILE *fp;

	snprintf(cmd, sizeof(cmd), "dig +short +norec @127.0.3.1 %s MX", zone);
	fp = popen(cmd, "r");
	if (fp && !fgets(got, sizeof(got), fp))
		got[0] = '\0';
	if (fp)
		pclose(fp);
	got[strcspn(got, "\n")] = '\0';
	CHECK_STR(got, want);
}

int main(void)
{
	const char *conf_path = getenv("MX_CONFIG"), *resolver = getenv("MX_RESOLVER_CONF");
	char a[64], b[64], state[128], want_a[300], want_b[300], *ta = NULL, *tb = NULL;
	struct mx_engine_cfg cfg;
	struct mx_engine *e = NULL;
	struct mx_conf *conf = NULL;
	struct dns_ctx *dns = NULL;
	struct http_ctx *http = NULL;
	struct jnl *jnl = NULL;
	struct mx_clock clock;
	struct mx_loop loop;
	struct mx_err err;

	if (!getenv("MX_SANDBOX_ENV")) {
		printf("skipped: no sandbox\n");
		return 77;
	}
	snprintf(a, sizeof(a), "eng%da.test", (int)getpid());
	snprintf(b, sizeof(b), "eng%db.test", (int)getpid());
	snprintf(state, sizeof(state), "/tmp/mxeng.%d.db", (int)getpid());
	ta = mkzone(a);
	tb = mkzone(b);
	CHECK(ta && tb);
	if (!ta || !tb)
		return CHECK_DONE();
	CHECK_INT(mx_conf_load(conf_path, true, &conf, &err), MX_OK);
	CHECK_INT(jnl_open(state, &jnl, &err), MX_OK);
	CHECK_INT(dns_ctx_new(&dns, resolver, &err), MX_OK);
	CHECK_INT(http_ctx_new(&http, getenv("MX_CACERT"), &err), MX_OK);
	mx_clock_init(&clock, true);
	memset(&cfg, 0, sizeof(cfg));
	cfg.conf = conf;
	cfg.jnl = jnl;
	cfg.dns = dns;
	cfg.http = http;
	cfg.clock = &clock;
	cfg.assume_yes = true; /* --yes */
	CHECK_INT(mx_engine_new(&e, &cfg, &err), MX_OK);
	loop.dns = dns;
	loop.http = http;

	CHECK_INT(mx_engine_start(e, a, ta, "pdns", NULL, &err), MX_OK);
	CHECK_INT(mx_engine_start(e, b, tb, "pdns", NULL, &err), MX_OK);
	CHECK_INT(mx_engine_nruns(e), 2);
	/* The same domain twice is refused while its run is unfinished. */
	CHECK_INT(mx_engine_start(e, a, ta, "pdns", NULL, &err), MX_EINVAL);

	/* A few units, then b is stopped where it is; a goes on. */
	drive(e, &loop, &clock, 8);
	mx_engine_stop_domain(e, b);
	drive(e, &loop, &clock, 400);
	CHECK(mx_engine_idle(e));
	CHECK_STR(mx_engine_run_state(e, 0), "done");

	/* b is forgotten and resumed in the same engine; it completes too. */
	mx_engine_forget(e, b);
	CHECK_INT(mx_engine_nruns(e), 1);
	CHECK_INT(mx_engine_resume(e, b, &err), MX_OK);
	drive(e, &loop, &clock, 400);
	CHECK(mx_engine_idle(e));
	CHECK_INT(mx_engine_exit_status(e), 0);
	for (int i = 0; i < mx_engine_nruns(e); i++)
		CHECK_STR(mx_engine_run_state(e, i), "done");

	snprintf(want_a, sizeof(want_a), "0 %s.", ta);
	snprintf(want_b, sizeof(want_b), "0 %s.", tb);
	check_mx(a, want_a);
	check_mx(b, want_b);

	mx_engine_free(e);
	jnl_close(jnl);
	http_ctx_free(http);
	dns_ctx_free(dns);
	mx_conf_free(conf);
	free(ta);
	free(tb);
	unlink(state);
	return CHECK_DONE();
}
