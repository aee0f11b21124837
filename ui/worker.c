/* SPDX-License-Identifier: MIT */
/* ui/worker.c — the wizard's background thread: prerequisite checks (badges, the checks
 * screen) and plan building run here, on their own resolver and HTTPS contexts, so the UI
 * thread only polls and draws. The cutover engine itself stays on the UI thread (its fds are
 * in the UI's poll); this thread never touches it. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"
#include "provider.h"
#include "ui.h"

struct ui_job *ui_job_new(
    enum ui_job_kind kind, const char *const *domains, const char *const *targets, size_t n)
{
	struct ui_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->kind = kind;
	j->domains = calloc(n ? n : 1, sizeof(*j->domains));
	j->targets = calloc(n ? n : 1, sizeof(*j->targets));
	if (!j->domains || !j->targets)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		j->n++;
		j->domains[i] = strdup(domains[i]);
		if (!j->domains[i])
			goto fail;
		if (targets && targets[i] && targets[i][0]) {
			j->targets[i] = strdup(targets[i]);
			if (!j->targets[i])
				goto fail;
		}
	}
	mx_err_clear(&j->err);
	return j;
fail:
	ui_job_free(j);
	return NULL;
}

void ui_job_free(struct ui_job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		free(j->domains[i]);
		free(j->targets[i]);
		if (j->res)
			chk_domain_clear(&j->res[i]);
	}
	free(j->domains);
	free(j->targets);
	free(j->res);
	json_decref(j->plan);
	free(j);
}

static int run_check(struct ui_worker *w, struct ui_job *j)
{
	struct chk_opts o;

	j->res = calloc(j->n ? j->n : 1, sizeof(*j->res));
	if (!j->res)
		return mx_err_set(&j->err, MX_ENOMEM, "out of memory");
	memset(&o, 0, sizeof(o));
	o.conf = w->app->conf;
	o.dns = w->dns;
	o.http = w->http;
	return chk_run(&o, (const char *const *)j->domains, (const char *const *)j->targets, j->n,
	    j->res, &j->err);
}

/* The same reads as `mxcutover plan`: the provider's RRsets, then the checks for the
 * observed TTL, the policy served and the blockers. */
static int run_plan(struct ui_worker *w, struct ui_job *j)
{
	const struct mx_conf *conf = w->app->conf;
	const char *domain = j->domains[0], *target = j->targets[0];
	struct mx_rrset mx, sts;
	struct prov *prov = NULL;
	struct chk_domain res;
	struct chk_opts o;
	struct mx_plan_in in;
	json_t *blockers = json_array();
	char name[300];
	int rc;

	memset(&mx, 0, sizeof(mx));
	memset(&sts, 0, sizeof(sts));
	memset(&res, 0, sizeof(res));
	if (!target) {
		rc = mx_err_set(&j->err, MX_EINVAL, "%s has no target host yet", domain);
		goto out;
	}
	rc = prov_open(conf, j->provider, domain, w->dns, w->http, &prov, &j->err);
	if (!rc)
		rc = prov->ops->read_rrset(prov, domain, DNS_T_MX, &mx, &j->err);
	snprintf(name, sizeof(name), "_mta-sts.%s", domain);
	if (!rc)
		rc = prov->ops->read_rrset(prov, name, DNS_T_TXT, &sts, &j->err);
	if (rc)
		goto out;
	if (mx.n == 0) {
		rc = mx_err_set(&j->err, MX_EINVAL, "%s has no MX RRset at %s; nothing to move",
		    domain, j->provider);
		goto out;
	}
	memset(&o, 0, sizeof(o));
	o.conf = conf;
	o.dns = w->dns;
	o.http = w->http;
	rc = chk_run(
	    &o, (const char *const *)j->domains, (const char *const *)j->targets, 1, &res, &j->err);
	if (rc)
		goto out;
	for (int i = 0; i < CHK_COUNT; i++)
		if (res.res[i].present && res.res[i].status == CHK_FAIL && i != CHK_MTASTS_COVERS)
			json_array_append_new(
			    blockers, json_sprintf("%s: %s", chk_id_name(i), res.res[i].summary));
	memset(&in, 0, sizeof(in));
	in.conf = conf;
	in.domain = domain;
	in.target = target;
	in.provider = j->provider;
	in.provider_type = prov->ops->name;
	in.provider_min_ttl = prov->ops->min_ttl;
	in.mx = &mx;
	in.sts_txt = &sts;
	in.observed_ttl = res.facts.mx_ttl_max;
	in.policy = res.facts.mtasts_policy;
	in.blockers = blockers;
	in.now = time(NULL);
	rc = mx_plan_build(&in, &j->plan, &j->err);
out:
	json_decref(blockers);
	prov_rrset_clear(&mx);
	prov_rrset_clear(&sts);
	chk_domain_clear(&res);
	prov_close(prov);
	return rc;
}

static void *worker_main(void *arg)
{
	struct ui_worker *w = arg;
	struct ui_job *j, **tail;
	char byte = 1;

	for (;;) {
		pthread_mutex_lock(&w->lock);
		while (!w->queue && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->quit) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		j = w->queue;
		w->queue = j->next;
		j->next = NULL;
		pthread_mutex_unlock(&w->lock);

		j->rc = j->kind == UI_JOB_CHECK ? run_check(w, j) : run_plan(w, j);

		pthread_mutex_lock(&w->lock);
		for (tail = &w->done; *tail; tail = &(*tail)->next)
			;
		*tail = j;
		if (!w->queue)
			w->busy = false;
		pthread_mutex_unlock(&w->lock);
		/* A full pipe already holds a wake-up; losing this byte loses nothing. */
		if (write(w->pipe[1], &byte, 1) < 0 && errno != EAGAIN)
			break;
	}
	return NULL;
}

int ui_worker_start(struct ui_worker *w, const struct mx_app *app, struct mx_err *err)
{
	int rc;

	memset(w, 0, sizeof(*w));
	w->pipe[0] = w->pipe[1] = -1;
	w->app = app;
	if (pipe2(w->pipe, O_CLOEXEC | O_NONBLOCK))
		return mx_err_set(err, MX_EIO, "cannot create a pipe: %s", strerror(errno));
	rc = dns_ctx_new(&w->dns, app->resolver_conf, err);
	if (!rc)
		rc = http_ctx_new(&w->http, app->cacert, err);
	if (rc)
		return rc;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, worker_main, w))
		return mx_err_set(err, MX_EIO, "cannot start the background thread");
	w->started = true;
	return MX_OK;
}

void ui_worker_submit(struct ui_worker *w, struct ui_job *j)
{
	struct ui_job **tail;

	pthread_mutex_lock(&w->lock);
	for (tail = &w->queue; *tail; tail = &(*tail)->next)
		;
	*tail = j;
	w->busy = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct ui_job *ui_worker_take(struct ui_worker *w)
{
	struct ui_job *j;
	char buf[64];

	while (read(w->pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->lock);
	j = w->done;
	if (j) {
		w->done = j->next;
		j->next = NULL;
	}
	pthread_mutex_unlock(&w->lock);
	return j;
}

bool ui_worker_busy(struct ui_worker *w)
{
	bool busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	pthread_mutex_unlock(&w->lock);
	return busy;
}

void ui_worker_stop(struct ui_worker *w)
{
	struct ui_job *j;
	struct timespec until;
	bool joined = true;

	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->quit = true;
		while ((j = w->queue)) {
			w->queue = j->next;
			ui_job_free(j);
		}
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 2;
		joined = pthread_timedjoin_np(w->thread, NULL, &until) == 0;
		if (!joined)
			pthread_detach(w->thread);
	}
	if (!joined)
		return;
	while ((j = w->done)) {
		w->done = j->next;
		ui_job_free(j);
	}
	http_ctx_free(w->http);
	dns_ctx_free(w->dns);
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	if (w->started) {
		pthread_mutex_destroy(&w->lock);
		pthread_cond_destroy(&w->cond);
	}
	w->started = false;
}
