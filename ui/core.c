/* SPDX-License-Identifier: MIT */
/* ui/core.c — the wizard's engine loop (see core.h): one thread, one mx_loop_once over the
 * engine's DNS/HTTPS and probe descriptors, the checks' resolver and the command pipe. Each
 * turn takes the terminal's commands, steps the engine for a bounded slice, advances the
 * checks and plans in flight, and sends the terminal what changed: engine events as they
 * come, and a domain's run view whenever it differs from the one sent last. Checks use a
 * resolver of their own, made fresh for every batch, so a check after a run's writes sees
 * the zone as it is and not as a cache remembers it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "nameidx.h"
#include "journal.h"
#include "loop.h"
#include "plan.h"
#include "provider.h"
#include "workers.h"

/* How much nicer than the screen's thread the engine loop and its helpers run. */
#define UI_CORE_NICE 5

/* Checks in flight: a batch for the badges and the checks screen, or the checks of a plan
 * (whose provider reads came first). */
struct chk_task {
	struct chk_job *job;
	size_t n;
	char **domains, **targets; /* owned */
	struct chk_domain *out;
	bool plan, export_after;
	char provider[64];
	char given_target[254]; /* a plan's target as the person gave it */
	const char *provider_type;
	int provider_min_ttl;
	struct mx_rrset mx, sts;
	/* [exchange]: each domain's exchange.access / exchange.dnssec and target, read in
	 * fibers of the pool (xw[i] in flight, exo_left still to come) before the DNS checks
	 * start (job still NULL) */
	struct exo_verdict *xv;
	struct mx_work **xw;
	size_t exo_left;
	struct mx_work *pw; /* a plan's provider reads in flight in the pool */
	struct mx_workers *pool;
	bool *posted;	      /* out[i] went to the terminal as soon as it was complete */
	struct ui_core *core; /* for the checks' completion callback */
	struct chk_task *next;
};

/* The calls that wait for the network, made in fibers of a pool on this loop
 * (mx_workers_new_fibers, src/workers.h), so that the loop — every run's progress — never
 * waits for a provider or Exchange Online. */
struct xcall { /* one domain's Exchange Online checks */
	char domain[254];
	struct exo_verdict v;
	struct mx_err err;
	bool filled;
};

struct pcall { /* a plan's provider reads */
	const struct mx_conf *conf;
	char provider[64], domain[254];
	struct mx_rrset mx, sts;
	const char *type;
	int min_ttl, rc;
	struct mx_err err;
};

/* A domain the terminal knows a run of, with the view it was sent last. */
struct pub {
	char domain[254];
	bool sent, stale;   /* stale: read its history again */
	struct ui_run hist; /* from the journal */
	struct ui_run run;  /* as sent */
	int eng;	    /* the engine's run index in publish round eng_round */
	unsigned eng_round;
	bool touched; /* in touched[]: an event of this turn is about it */
	/* The journal's row hist was read from: its id and updated_at (seconds), and when it
	 * was read (time(NULL)); a run held elsewhere is read again only when these differ. */
	long long hist_id, hist_updated, hist_read;
	unsigned held_seen; /* the refresh round that last found its lock held elsewhere */
};

/* How often the run views are sent at most while runs change (the terminal redraws on
 * them); events (log lines, steps, questions) go at once. */
#define PUBLISH_MS 50

struct ui_core {
	const struct mx_app *app;
	struct jnl *jnl;
	struct dns_ctx *dns;	 /* the engine's */
	struct dns_ctx *chk_dns; /* the checks' */
	struct http_ctx *http;
	struct exo_ctx *exo; /* [exchange], NULL without it; the engine's too */
	struct mx_clock clock;
	struct mx_engine *engine;
	struct mx_sink sink;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock; /* guards cmds, msgs, quit */
	struct ui_cmd *cmds;
	struct ui_msg *msgs, **msgs_tail;
	bool quit, ended;
	bool detached; /* the thread did not end in time: it keeps what it uses */
	int cmd_pipe[2], msg_pipe[2];
	_Atomic long long offset; /* the clock's, for the terminal's countdowns */
	bool warps;
	struct chk_task *tasks;
	struct chk_task *exo_tasks;  /* [exchange]: still reading Exchange, oldest first */
	struct chk_task *read_tasks; /* plans whose provider reads are in flight */
	struct mx_workers *workers;  /* fibers on this loop for the calls that wait */
	struct mx_work *tenant_work; /* the accepted domains being read */
	struct ui_msg *tenant_msg;   /* its message, posted when it ends */
	struct pub *pubs;
	size_t npubs, cap_pubs;
	struct nameidx pub_idx; /* pubs by domain */
	unsigned round;		/* publish rounds */
	double published_ms;	/* mx_mono_ms of the last publish */
	double held_next;	/* mx_mono_ms of the next look at runs another process drives */
	unsigned held_round;	/* counts those looks (pub.held_seen) */
	bool changed;		/* something may have changed a view since */
	/* this turn's engine events, posted after the views of their runs (flush_events) */
	struct ui_msg *evq, **evq_tail;
	size_t *touched, ntouched, cap_touched;
	bool engine_ready;
	time_t wake;
};

/* ---- queues ---- */

struct ui_cmd *ui_cmd_new(enum ui_cmd_kind kind, const char *domain)
{
	struct ui_cmd *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = kind;
	if (domain)
		snprintf(c->domain, sizeof(c->domain), "%s", domain);
	return c;
}

static void cmd_free(struct ui_cmd *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->domains[i]);
		free(c->targets[i]);
	}
	free(c->domains);
	free(c->targets);
	free(c->plan_json);
	free(c);
}

static void wake_up(int fd)
{
	char byte = 1;

	/* A full pipe already holds a wake-up; losing this byte loses nothing. */
	if (write(fd, &byte, 1) < 0 && errno != EAGAIN) {
		/* nothing else to do */
	}
}

static void drain(int fd)
{
	char buf[64];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

void ui_core_send(struct ui_core *c, struct ui_cmd *cmd)
{
	struct ui_cmd **tail;

	if (!cmd)
		return;
	pthread_mutex_lock(&c->lock);
	for (tail = &c->cmds; *tail; tail = &(*tail)->next)
		;
	*tail = cmd;
	pthread_mutex_unlock(&c->lock);
	wake_up(c->cmd_pipe[1]);
}

static struct ui_msg *msg_new(enum ui_msg_kind kind, const char *domain)
{
	struct ui_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->kind = kind;
	if (domain)
		snprintf(m->domain, sizeof(m->domain), "%s", domain);
	mx_err_clear(&m->err);
	return m;
}

static void post(struct ui_core *c, struct ui_msg *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&c->lock);
	*c->msgs_tail = m;
	c->msgs_tail = &m->next;
	pthread_mutex_unlock(&c->lock);
	wake_up(c->msg_pipe[1]);
}

static void post_fail(struct ui_core *c, const char *domain, const struct mx_err *err)
{
	struct ui_msg *m = msg_new(UI_MSG_FAIL, domain);

	if (m) {
		m->err = *err;
		post(c, m);
	}
}

int ui_core_fd(const struct ui_core *c)
{
	return c->msg_pipe[0];
}

struct ui_msg *ui_core_take(struct ui_core *c)
{
	struct ui_msg *m;

	drain(c->msg_pipe[0]);
	pthread_mutex_lock(&c->lock);
	m = c->msgs;
	if (m) {
		c->msgs = m->next;
		if (!c->msgs)
			c->msgs_tail = &c->msgs;
		m->next = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return m;
}

void ui_msg_free(struct ui_msg *m)
{
	if (!m)
		return;
	chk_domain_clear(&m->chk);
	json_decref(m->plan);
	free(m->accepted);
	free(m);
}

time_t ui_core_now(const struct ui_core *c)
{
	return time(NULL) + (time_t)atomic_load(&c->offset);
}

bool ui_core_tenant(const struct ui_core *c)
{
	return c->exo != NULL;
}

bool ui_core_warps(const struct ui_core *c)
{
	return c->warps;
}

/* ---- run views ---- */

static const char *pub_key(const void *ctx, size_t i)
{
	return ((const struct ui_core *)ctx)->pubs[i].domain;
}

/* The domain's pub (added when add), through an index: a publish round looks up every run,
 * and with a thousand runs a linear search was a million comparisons a round. */
static struct pub *pub_find(struct ui_core *c, const char *domain, bool add)
{
	long k = nameidx_find(&c->pub_idx, domain, pub_key, c);
	struct pub *p;

	if (k >= 0)
		return &c->pubs[k];
	if (!add)
		return NULL;
	if (c->npubs == c->cap_pubs) {
		size_t cap = c->cap_pubs ? 2 * c->cap_pubs : 64;

		if (!(p = realloc(c->pubs, cap * sizeof(*p))))
			return NULL;
		c->pubs = p;
		c->cap_pubs = cap;
	}
	p = &c->pubs[c->npubs];
	memset(p, 0, sizeof(*p));
	snprintf(p->domain, sizeof(p->domain), "%s", domain);
	p->stale = true;
	if (nameidx_add(&c->pub_idx, c->npubs, pub_key, c))
		return NULL;
	c->npubs++;
	return p;
}

/* Who drives domain's unfinished run when it is not this process: another wizard, a `run` or
 * a `resume` holds its lock (jnl_lock) while it lives. */
static void read_holder(struct ui_core *c, const char *domain, struct ui_run *h)
{
	struct jnl_lock_info l;
	struct mx_err err;
	char me[256] = "", since[32] = "";
	time_t t;
	struct tm tm;

	memset(&l, 0, sizeof(l));
	if (jnl_lock_get(c->jnl, domain, &l, &err) || !l.pid || !l.live) {
		jnl_lock_info_clear(&l);
		return;
	}
	gethostname(me, sizeof(me) - 1);
	if (l.pid != (long long)getpid() || (l.host && strcmp(l.host, me))) {
		t = (time_t)l.since;
		if (gmtime_r(&t, &tm))
			strftime(since, sizeof(since), " since %H:%M:%S UTC", &tm);
		h->held_pid = l.pid;
		snprintf(h->held_by, sizeof(h->held_by), "pid %lld on %.60s%s", l.pid,
		    l.host ? l.host : "?", since);
	}
	jnl_lock_info_clear(&l);
}

/* The domain's newest run as the journal holds it. Its direction is the journal's own
 * (run variables), never guessed from the state or the step's name: a rollback stopped
 * anywhere, at a gate or by a failure, is shown and resumed as a rollback. */
static void read_history(struct ui_core *c, struct pub *p)
{
	struct ui_run *h = &p->hist;
	struct jnl_run row;
	struct jnl_vars vars;
	struct mx_err err;
	int st, count;

	memset(h, 0, sizeof(*h));
	h->step = -1;
	memset(&row, 0, sizeof(row));
	memset(&vars, 0, sizeof(vars));
	p->hist_id = p->hist_updated = 0;
	p->hist_read = (long long)time(NULL);
	if (jnl_run_latest(c->jnl, p->domain, &row, &err) || !row.id)
		goto out;
	p->hist_id = row.id;
	p->hist_updated = row.updated_at;
	h->exists = true;
	st = mx_run_state_parse(row.state);
	h->st = st < 0 ? MX_RUN_FAILED : (enum mx_run_state)st;
	if (!jnl_vars_get(c->jnl, row.id, &vars, &err)) {
		h->rollback = vars.rollback != 0;
		h->exchange = vars.exchange != 0;
	}
	h->rollback |= h->st == MX_RUN_ROLLING_BACK || h->st == MX_RUN_ROLLED_BACK;
	snprintf(h->step_key, sizeof(h->step_key), "%s", row.step ? row.step : "");
	count = mx_prog_count(h->rollback);
	h->step = mx_run_state_over(h->st) ? count : mx_prog_find(h->rollback, h->step_key);
	snprintf(h->target, sizeof(h->target), "%s", row.target ? row.target : "");
	snprintf(h->provider, sizeof(h->provider), "%s", row.provider ? row.provider : "");
	snprintf(h->error, sizeof(h->error), "%s", row.error ? row.error : "");
	snprintf(
	    h->waiting_for, sizeof(h->waiting_for), "%s", row.waiting_for ? row.waiting_for : "");
	h->wake = (time_t)row.next_at;
	if (!mx_run_state_over(h->st))
		read_holder(c, p->domain, h);
	/* Each step's state in the journal, of the direction shown. */
	for (int i = 0; i < count && i < UI_STEP_MAX; i++) {
		char *name = jnl_step_state(c->jnl, row.id, mx_prog_step(h->rollback, i)->key);

		st = mx_step_state_parse(name);
		h->steps[i] = st < 0 ? MX_STEP_PENDING : (enum mx_step_state)st;
		free(name);
	}
out:
	jnl_vars_clear(&vars);
	jnl_run_clear(&row);
	p->stale = false;
}

/* The view of p: its history, overlaid with what the engine says while it drives it (run
 * index eng, -1 when the engine has no run of it). */
static void build_view(struct ui_core *c, struct pub *p, int eng, struct ui_run *out)
{
	struct mx_run_info info;

	if (p->stale)
		read_history(c, p);
	*out = p->hist;
	if (eng < 0)
		return;
	mx_engine_run_info(c->engine, eng, &info);
	if (info.stopped && out->held_pid)
		return; /* stopped here, and another process has taken it over since */
	out->exists = true;
	out->live = !info.stopped;
	out->held_pid = 0; /* this process drives it */
	out->held_by[0] = '\0';
	out->rollback = info.rollback;
	out->step = info.step;
	out->st = info.st;
	out->step_flags = info.step_flags;
	snprintf(out->question, sizeof(out->question), "%s", info.question ? info.question : "");
	snprintf(out->step_key, sizeof(out->step_key), "%s", info.step_key ? info.step_key : "");
	out->wake = info.wake;
	snprintf(out->waiting_for, sizeof(out->waiting_for), "%s",
	    info.waiting_for ? info.waiting_for : "");
	snprintf(out->gate, sizeof(out->gate), "%s", info.gate ? info.gate : "");
	snprintf(out->mx_now, sizeof(out->mx_now), "%s", info.mx ? info.mx : "");
	if (info.target)
		snprintf(out->target, sizeof(out->target), "%s", info.target);
	if (info.provider)
		snprintf(out->provider, sizeof(out->provider), "%s", info.provider);
}

/* Which engine run each pub has this round (p->eng when p->eng_round is the round). */
static unsigned map_runs(struct ui_core *c)
{
	int n = c->engine ? mx_engine_nruns(c->engine) : 0;
	unsigned round = ++c->round;

	for (int i = 0; i < n; i++) {
		struct mx_run_info info;
		struct pub *p;

		mx_engine_run_info(c->engine, i, &info);
		/* A domain's newest run comes last: its index wins. */
		if ((p = pub_find(c, info.domain, true))) {
			p->eng = i;
			p->eng_round = round;
		}
	}
	return round;
}

/* Sends p's view if it differs from what was sent; v is scratch. */
static void send_view(struct ui_core *c, struct pub *p, unsigned round, struct ui_run *v)
{
	struct ui_msg *m;

	memset(v, 0, sizeof(*v));
	build_view(c, p, p->eng_round == round ? p->eng : -1, v);
	if (p->sent && !memcmp(v, &p->run, sizeof(p->run)))
		return;
	if (!(m = msg_new(UI_MSG_RUN, p->domain)))
		return;
	m->run = *v;
	p->run = *v;
	p->sent = true;
	post(c, m);
}

/* Runs another process drives (ui_run.held_pid) change without an event here: every
 * HELD_REFRESH_MS the run locks are read (one query), and a run held elsewhere is read again
 * from the journal when its row has changed (one query to tell) or its lock is gone. So the
 * wizard shows their progress, lists a run another process started after the wizard opened
 * (a domain it did not know is added to the list), and learns when that process has let a
 * run go (then it is stopped, resumable here). Returns the milliseconds until the next
 * look. */
#define HELD_REFRESH_MS 2000

static void mark_held(const char *domain, const struct jnl_lock_info *l, void *arg)
{
	struct ui_core *c = arg;
	struct pub *p;

	if (!l->live || !(p = pub_find(c, domain, true)))
		return;
	p->held_seen = c->held_round;
	if (!p->hist.held_pid) {
		p->stale = true; /* started elsewhere since it was read */
		c->changed = true;
	}
}

/* Has the journal's row of p's run changed since it was read? One query. updated_at has a
 * resolution of a second: a row read within a second of its last change is read again. */
static bool held_changed(struct ui_core *c, const struct pub *p)
{
	struct jnl_run row;
	struct mx_err err;
	bool changed;

	memset(&row, 0, sizeof(row));
	if (jnl_run_latest(c->jnl, p->domain, &row, &err))
		return true;
	changed = row.id != p->hist_id || row.updated_at != p->hist_updated ||
		  p->hist_read <= row.updated_at + 1;
	jnl_run_clear(&row);
	return changed;
}

static int refresh_held(struct ui_core *c)
{
	double now = mx_mono_ms();
	struct mx_err err;

	if (now < c->held_next)
		return (int)(c->held_next - now) + 1;
	c->held_round++;
	(void)jnl_lock_each(c->jnl, mark_held, c, &err);
	/* A run held elsewhere is read again when its lock is gone (that process has ended or
	 * let it go) or its row has changed. */
	for (size_t i = 0; i < c->npubs; i++) {
		struct pub *p = &c->pubs[i];

		if (p->hist.held_pid && !p->stale &&
		    (p->held_seen != c->held_round || held_changed(c, p))) {
			p->stale = true;
			c->changed = true;
		}
	}
	c->held_next = now + HELD_REFRESH_MS;
	return HELD_REFRESH_MS;
}

/* Sends every run view that changed since it was sent: one pass over the engine's runs, one
 * over the pubs, a message only for a view that differs. */
static void publish(struct ui_core *c)
{
	struct ui_run *v = malloc(sizeof(*v));
	unsigned round;

	c->published_ms = mx_mono_ms();
	c->changed = false;
	if (!v)
		return;
	round = map_runs(c);
	for (size_t i = 0; i < c->npubs; i++)
		send_view(c, &c->pubs[i], round, v);
	free(v);
}

/* The engine's events of this turn go to the terminal after the views of the runs they are
 * about, so that a key answering what an event says (a question) finds the run's view
 * already there; the other views follow at most PUBLISH_MS later (publish_due). */
static void flush_events(struct ui_core *c)
{
	struct ui_run *v;
	unsigned round;

	if (!c->ntouched && !c->evq)
		return;
	if (c->ntouched && (v = malloc(sizeof(*v)))) {
		round = map_runs(c);
		for (size_t i = 0; i < c->ntouched; i++)
			send_view(c, &c->pubs[c->touched[i]], round, v);
		free(v);
	}
	for (size_t i = 0; i < c->ntouched; i++)
		c->pubs[c->touched[i]].touched = false;
	c->ntouched = 0;
	if (c->evq) {
		pthread_mutex_lock(&c->lock);
		*c->msgs_tail = c->evq;
		c->msgs_tail = c->evq_tail;
		pthread_mutex_unlock(&c->lock);
		c->evq = NULL;
		c->evq_tail = &c->evq;
		wake_up(c->msg_pipe[1]);
	}
}

/* At most every PUBLISH_MS while something changes; returns the ms until it is due (-1: not
 * due, nothing changed). */
static int publish_due(struct ui_core *c)
{
	double left;

	if (!c->changed)
		return -1;
	left = c->published_ms + PUBLISH_MS - mx_mono_ms();
	if (left <= 0) {
		publish(c);
		return -1;
	}
	return (int)left;
}

static void on_event(const struct mx_event *ev, void *arg)
{
	struct ui_core *c = arg;
	struct ui_msg *m = msg_new(UI_MSG_EVENT, ev->domain);
	struct pub *p;

	if (m) {
		m->ev = *ev;
		*c->evq_tail = m;
		c->evq_tail = &m->next;
	}
	if (ev->kind != MX_EV_LOG && (p = pub_find(c, ev->domain, true))) {
		p->stale = true;
		c->changed = true;
		if (!p->touched && c->ntouched < c->cap_touched)
			c->touched[c->ntouched++] = (size_t)(p - c->pubs);
		else if (!p->touched) {
			size_t cap = c->cap_touched ? 2 * c->cap_touched : 64,
			       *t = realloc(c->touched, cap * sizeof(*t));

			if (!t)
				return; /* its view goes with the next publish */
			c->touched = t;
			c->cap_touched = cap;
			c->touched[c->ntouched++] = (size_t)(p - c->pubs);
		}
		p->touched = true;
	}
}

/* ---- the engine ---- */

static int engine_open(struct ui_core *c, struct mx_err *err)
{
	struct mx_engine_cfg cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.conf = c->app->conf;
	cfg.jnl = c->jnl;
	cfg.dns = c->dns;
	cfg.http = c->http;
	cfg.clock = &c->clock;
	cfg.sink = &c->sink;
	cfg.assume_yes = false; /* questions wait for mx_engine_answer */
	cfg.exo = c->exo;
	return mx_engine_new(&c->engine, &cfg, err);
}

/* An idle engine holds only stopped runs: a fresh one can take the domain again. */
static int engine_fresh(struct ui_core *c, struct mx_err *err)
{
	if (c->engine && !mx_engine_idle(c->engine))
		return MX_OK;
	mx_engine_free(c->engine);
	c->engine = NULL;
	return engine_open(c, err);
}

/* Steps the engine for at most ~20 ms, so commands and the other work stay responsive. */
static void pump_engine(struct ui_core *c)
{
	double t0 = mx_mono_ms();
	struct mx_err err;
	time_t wake;
	int rc;

	c->engine_ready = false;
	c->wake = 0;
	while (c->engine && !mx_engine_idle(c->engine)) {
		mx_err_clear(&err);
		rc = mx_engine_step(c->engine, &wake, &err);
		if (rc == MX_EAGAIN) {
			c->wake = wake;
			break;
		}
		if (rc) {
			/* A failure of the engine itself (not of a run): stop everything where
			 * it is; the journal keeps every run resumable. */
			mx_engine_stop(c->engine);
			mx_err_set(&err, err.rc, "the engine failed: %.200s", err.msg);
			post_fail(c, "", &err);
			break;
		}
		if (mx_mono_ms() - t0 > 20) {
			c->engine_ready = true;
			break;
		}
	}
}

/* ---- checks and plans ---- */

static void task_free(struct chk_task *k)
{
	struct mx_err err;

	if (!k)
		return;
	if (k->job)
		chk_finish(k->job, &err);
	for (size_t i = 0; k->xw && i < k->n; i++)
		mx_work_abandon(k->pool, k->xw[i]);
	free(k->xw);
	mx_work_abandon(k->pool, k->pw);
	for (size_t i = 0; i < k->n; i++) {
		free(k->domains[i]);
		free(k->targets[i]);
		if (k->out)
			chk_domain_clear(&k->out[i]);
		if (k->xv)
			exo_verdict_clear(&k->xv[i]);
	}
	free(k->xv);
	free(k->posted);
	free(k->domains);
	free(k->targets);
	free(k->out);
	prov_rrset_clear(&k->mx);
	prov_rrset_clear(&k->sts);
	free(k);
}

/* chk_exchange_fn: the verdicts read from Exchange for exchange.access and exchange.dnssec. */
static void exo_result(
    void *arg, const char *domain, struct chk_result *access, struct chk_result *dnssec)
{
	struct chk_task *k = arg;

	for (size_t i = 0; i < k->n; i++) {
		if (strcmp(k->domains[i], domain))
			continue;
		*access = k->xv[i].access;
		*dnssec = k->xv[i].dnssec;
		json_incref(access->detail);
		json_incref(dnssec->detail);
		return;
	}
}

/* The message of one domain's finished check: its result moved out of the batch. */
static void post_checked(struct ui_core *c, struct chk_task *k, size_t i)
{
	struct ui_msg *m = msg_new(UI_MSG_CHECK, k->domains[i]);

	if (!m)
		return;
	m->chk = k->out[i];
	memset(&k->out[i], 0, sizeof(k->out[i]));
	/* The terminal shows verdicts, summaries and badges: the rest stays here (a thousand
	 * domains' details would stay in memory for nothing). */
	chk_domain_slim(&m->chk);
	k->posted[i] = true;
	if (k->xv)
		snprintf(m->exo_target, sizeof(m->exo_target), "%s", k->xv[i].target);
	post(c, m);
}

/* chk_done_fn: a domain of a batch of checks is complete; the terminal has it at once, not
 * when the whole batch is (10 000 domains take a minute or more). */
static void task_domain_done(void *arg, struct chk_domain *d)
{
	struct chk_task *k = arg;
	size_t i = (size_t)(d - k->out);

	if (i < k->n && !k->posted[i])
		post_checked(k->core, k, i);
}

static int task_start(struct ui_core *c, struct chk_task *k, struct mx_err *err)
{
	struct chk_opts o;
	int rc;

	/* A fresh resolver for each batch: what the zone serves now, not what a cache holds
	 * from before a run's writes. */
	if (!c->tasks) {
		dns_ctx_free(c->chk_dns);
		c->chk_dns = NULL;
		rc = dns_ctx_new(&c->chk_dns, c->app->resolver_conf, err);
		if (rc)
			return rc;
	}
	k->out = calloc(k->n ? k->n : 1, sizeof(*k->out));
	k->posted = calloc(k->n ? k->n : 1, sizeof(*k->posted));
	if (!k->out || !k->posted)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	k->core = c;
	memset(&o, 0, sizeof(o));
	o.conf = c->app->conf;
	o.dns = c->chk_dns;
	o.http = c->http;
	if (k->xv) {
		o.exchange = exo_result;
		o.exchange_arg = k;
	}
	if (!k->plan) {
		o.on_done = task_domain_done;
		o.done_arg = k;
	}
	rc = chk_start(&o, (const char *const *)k->domains, (const char *const *)k->targets, k->n,
	    k->out, &k->job, err);
	if (rc)
		return rc;
	k->next = c->tasks;
	c->tasks = k;
	return MX_OK;
}

static void plan_checks(struct ui_core *c, struct chk_task *k);
static void post_check_failure(struct ui_core *c, struct chk_task *k, const struct mx_err *err);
static void post_plan_failure(struct ui_core *c, struct chk_task *k, const struct mx_err *err);

static struct mx_workers *core_workers(struct ui_core *c, struct mx_err *err)
{
	if (!c->workers)
		mx_workers_new_fibers(&c->workers, 8, c->app->conf, c->http, c->dns, err);
	return c->workers;
}

/* mx_work_fn: one domain's Get-DnssecStatusForVerifiedDomain and Get-SmtpDaneInboundStatus
 * (exo_check_domain, which never changes the tenant). */
static void xcall_run(struct mx_worker *w, void *arg)
{
	struct xcall *x = arg;

	mx_err_clear(&x->err);
	x->filled = mx_worker_exo_check(w, x->domain, &x->v, &x->err);
}

static void xcall_free(void *arg, bool orphan)
{
	struct xcall *x = arg;

	(void)orphan;
	exo_verdict_clear(&x->v);
	free(x);
}

/* [exchange]: the batch's Exchange checks start in the pool, one call per domain; once
 * every domain is read (advance_exo), its DNS checks start. */
static void exo_queue(struct ui_core *c, struct chk_task *k)
{
	struct chk_task **tail = &c->exo_tasks;
	struct mx_err err;

	mx_err_clear(&err);
	k->next = NULL;
	if (!(k->pool = core_workers(c, &err)) || !(k->xw = calloc(k->n, sizeof(*k->xw))))
		goto fail;
	for (size_t i = 0; i < k->n; i++) {
		struct xcall *x = calloc(1, sizeof(*x));

		if (!x)
			goto fail;
		snprintf(x->domain, sizeof(x->domain), "%s", k->domains[i]);
		if (!(k->xw[i] =
			    mx_work_start(k->pool, "exchange", xcall_run, x, xcall_free, &err))) {
			free(x);
			goto fail;
		}
		k->exo_left++;
	}
	while (*tail)
		tail = &(*tail)->next;
	*tail = k;
	return;
fail:
	if (!err.msg[0])
		mx_err_set(&err, MX_ENOMEM, "out of memory");
	if (k->plan)
		post_plan_failure(c, k, &err);
	else
		post_check_failure(c, k, &err), task_free(k);
}

/* The target Exchange assigned replaces the one the batch was given: with [exchange] the
 * host is Exchange's, as for `mxcutover check`. */
static int exo_take_target(struct chk_task *k, size_t i, struct mx_err *err)
{
	char *t;

	if (!k->xv[i].target[0])
		return MX_OK;
	if (!(t = strdup(k->xv[i].target)))
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	free(k->targets[i]);
	k->targets[i] = t;
	return MX_OK;
}

static void post_check_failure(struct ui_core *c, struct chk_task *k, const struct mx_err *err)
{
	for (size_t i = 0; i < k->n; i++) {
		struct ui_msg *m = msg_new(UI_MSG_CHECK, k->domains[i]);

		if (m) {
			m->err = *err;
			post(c, m);
		}
	}
}

/* [exchange]: takes the Exchange checks that ended; a batch whose domains are all read
 * goes on to its DNS checks (or a plan's provider reads). */
static void advance_exo(struct ui_core *c)
{
	for (struct chk_task **pk = &c->exo_tasks, *k; (k = *pk);) {
		struct mx_err err;

		mx_err_clear(&err);
		for (size_t i = 0; i < k->n && k->exo_left; i++) {
			struct xcall *x;

			if (!k->xw[i] || !mx_work_done(k->pool, k->xw[i]))
				continue;
			x = mx_work_arg(k->xw[i]);
			mx_work_end(k->pool, k->xw[i]);
			k->xw[i] = NULL;
			k->exo_left--;
			if (x->filled) {
				k->xv[i] = x->v;
				memset(&x->v, 0, sizeof(x->v));
			} else if (!err.rc) {
				err = x->err;
			}
			xcall_free(x, false);
			if (!err.rc && exo_take_target(k, i, &err))
				break;
		}
		if (!err.rc && k->exo_left) {
			pk = &k->next;
			continue;
		}
		*pk = k->next;
		k->next = NULL;
		if (err.rc) {
			if (k->plan)
				post_plan_failure(c, k, &err);
			else
				post_check_failure(c, k, &err), task_free(k);
			continue;
		}
		if (k->plan) {
			plan_checks(c, k);
			continue;
		}
		if (task_start(c, k, &err)) {
			post_check_failure(c, k, &err);
			task_free(k);
		}
	}
}

static void start_check(struct ui_core *c, struct ui_cmd *cmd)
{
	struct chk_task *k = calloc(1, sizeof(*k));
	struct mx_err err;

	mx_err_clear(&err);
	if (!k) {
		mx_err_set(&err, MX_ENOMEM, "out of memory");
		goto fail;
	}
	k->n = cmd->n;
	k->domains = cmd->domains;
	k->targets = cmd->targets;
	cmd->n = 0;
	cmd->domains = cmd->targets = NULL;
	if (c->exo) {
		/* Exchange first (advance_exo), one domain per turn: it names the targets. */
		if (!(k->xv = calloc(k->n ? k->n : 1, sizeof(*k->xv)))) {
			mx_err_set(&err, MX_ENOMEM, "out of memory");
			goto fail;
		}
		exo_queue(c, k);
		return;
	}
	if (!task_start(c, k, &err))
		return;
fail:
	for (size_t i = 0; k && i < k->n; i++) {
		struct ui_msg *m = msg_new(UI_MSG_CHECK, k->domains[i]);

		if (m) {
			m->err = err;
			post(c, m);
		}
	}
	task_free(k);
}

static void post_plan_failure(struct ui_core *c, struct chk_task *k, const struct mx_err *err)
{
	struct ui_msg *m = msg_new(UI_MSG_PLAN, k->domains[0]);

	if (m) {
		m->err = *err;
		m->flag = k->export_after;
		post(c, m);
	}
	task_free(k);
}

/* [exchange]: the plan's target is the host Exchange assigned, as for `mxcutover plan`; a
 * refused sign-in, an endpoint not provisioned yet or a different given host has no plan. */
static int plan_exo_target(struct chk_task *k, const char *given, struct mx_err *err)
{
	const struct exo_verdict *xv = &k->xv[0];

	if (xv->access.present && xv->access.status == CHK_FAIL)
		return mx_err_set(err, MX_EAUTH, "%s", xv->access.summary);
	if (!xv->target[0])
		return mx_err_set(err, MX_EINVAL,
		    "Exchange Online has not provisioned the DNSSEC endpoint of %s yet, so the new "
		    "MX host is unknown and there is no plan; Enter starts the run, whose first "
		    "step provisions it (Enable-DnssecForVerifiedDomain)",
		    k->domains[0]);
	if (given[0] && strcasecmp(given, xv->target))
		return mx_err_set(err, MX_EINVAL,
		    "the target %s differs from %s, the host Exchange Online assigned to %s "
		    "(DnssecMxValue); press t and take Exchange's host",
		    given, xv->target, k->domains[0]);
	return exo_take_target(k, 0, err);
}

/* mx_work_fn: the same reads as `mxcutover plan`, the provider's RRsets now. */
static void pcall_run(struct mx_worker *w, void *arg)
{
	struct pcall *pc = arg;
	struct prov *prov = NULL;
	struct dns_ctx *dns;
	struct http_ctx *http;
	char name[300];

	mx_err_clear(&pc->err);
	if (!(http = mx_worker_http(w, &pc->err)) || !(dns = mx_worker_dns(w, &pc->err))) {
		pc->rc = pc->err.rc ? pc->err.rc : MX_EIO;
		return;
	}
	pc->rc = prov_open(pc->conf, pc->provider, pc->domain, dns, http, &prov, &pc->err);
	if (!pc->rc)
		pc->rc = prov->ops->read_rrset(prov, pc->domain, DNS_T_MX, &pc->mx, &pc->err);
	snprintf(name, sizeof(name), "_mta-sts.%s", pc->domain);
	if (!pc->rc)
		pc->rc = prov->ops->read_rrset(prov, name, DNS_T_TXT, &pc->sts, &pc->err);
	if (!pc->rc) {
		pc->type = prov->ops->name;
		pc->min_ttl = prov->ops->min_ttl;
	}
	prov_close(prov);
}

static void pcall_free(void *arg, bool orphan)
{
	struct pcall *pc = arg;

	(void)orphan;
	prov_rrset_clear(&pc->mx);
	prov_rrset_clear(&pc->sts);
	free(pc);
}

/* A plan reads the provider's RRsets first (in the pool); the checks follow on the
 * loop, then the plan is built from both (finish_plan). */
static void plan_checks(struct ui_core *c, struct chk_task *k)
{
	struct pcall *pc = NULL;
	struct mx_err err;
	char lane[80];
	int rc = MX_OK;

	mx_err_clear(&err);
	if (k->xv)
		rc = plan_exo_target(k, k->given_target, &err);
	if (!rc && !k->targets[0][0])
		rc = mx_err_set(&err, MX_EINVAL, "%s has no target host yet", k->domains[0]);
	if (!rc && !(k->pool = core_workers(c, &err)))
		rc = err.rc ? err.rc : MX_EIO;
	if (!rc && !(pc = calloc(1, sizeof(*pc))))
		rc = mx_err_set(&err, MX_ENOMEM, "out of memory");
	if (!rc) {
		pc->conf = c->app->conf;
		snprintf(pc->provider, sizeof(pc->provider), "%s", k->provider);
		snprintf(pc->domain, sizeof(pc->domain), "%s", k->domains[0]);
		snprintf(lane, sizeof(lane), "provider.%s", pc->provider);
		if (!(k->pw = mx_work_start(k->pool, lane, pcall_run, pc, pcall_free, &err))) {
			free(pc);
			rc = err.rc ? err.rc : MX_ENOMEM;
		}
	}
	if (rc) {
		post_plan_failure(c, k, &err);
		return;
	}
	k->next = c->read_tasks;
	c->read_tasks = k;
}

/* Plans whose provider reads ended start their checks. */
static void advance_reads(struct ui_core *c)
{
	for (struct chk_task **pk = &c->read_tasks, *k; (k = *pk);) {
		struct pcall *pc;
		struct mx_err err;
		int rc;

		if (!mx_work_done(k->pool, k->pw)) {
			pk = &k->next;
			continue;
		}
		*pk = k->next;
		k->next = NULL;
		pc = mx_work_arg(k->pw);
		mx_work_end(k->pool, k->pw);
		k->pw = NULL;
		rc = pc->rc;
		err = pc->err;
		if (!rc && pc->mx.n == 0)
			rc =
			    mx_err_set(&err, MX_EINVAL, "%s has no MX RRset at %s; nothing to move",
				k->domains[0], k->provider);
		if (!rc) {
			k->mx = pc->mx;
			k->sts = pc->sts;
			memset(&pc->mx, 0, sizeof(pc->mx));
			memset(&pc->sts, 0, sizeof(pc->sts));
			k->provider_type = pc->type;
			k->provider_min_ttl = pc->min_ttl;
			rc = task_start(c, k, &err);
		}
		pcall_free(pc, false);
		if (rc)
			post_plan_failure(c, k, &err);
	}
}

static void start_plan(struct ui_core *c, struct ui_cmd *cmd)
{
	struct chk_task *k = calloc(1, sizeof(*k));
	struct mx_err err;

	mx_err_clear(&err);
	if (!k || !(k->domains = calloc(1, sizeof(char *))) ||
	    !(k->targets = calloc(1, sizeof(char *))) || !(k->domains[0] = strdup(cmd->domain)) ||
	    !(k->targets[0] = strdup(cmd->target)) ||
	    (c->exo && !(k->xv = calloc(1, sizeof(*k->xv))))) {
		struct ui_msg *m = msg_new(UI_MSG_PLAN, cmd->domain);

		if (k && k->domains && k->domains[0])
			k->n = 1;
		task_free(k);
		if (m) {
			mx_err_set(&m->err, MX_ENOMEM, "out of memory");
			post(c, m);
		}
		return;
	}
	k->n = 1;
	k->plan = true;
	k->export_after = cmd->flag;
	snprintf(k->provider, sizeof(k->provider), "%s", cmd->provider);
	snprintf(k->given_target, sizeof(k->given_target), "%s", cmd->target);
	if (k->xv)
		exo_queue(c, k); /* Exchange first (advance_exo), then plan_checks */
	else
		plan_checks(c, k);
}

/* The plan as `mxcutover plan` builds it: the one readiness verdict (chk_verdict) decides —
 * a migrated domain has nothing to plan (its line is the reason), and unless the verdict is
 * runnable its root causes are the plan's blockers. */
static void finish_plan(struct ui_core *c, struct chk_task *k)
{
	struct ui_msg *m = msg_new(UI_MSG_PLAN, k->domains[0]);
	struct chk_domain *res = &k->out[0];
	const struct chk_verdict_info *v = &res->verdict;
	json_t *blockers = json_array();
	struct mx_plan_in in;

	if (!m)
		goto out;
	m->flag = k->export_after;
	if (v->v == CHK_V_MIGRATED) {
		mx_err_set(&m->err, MX_EINVAL, "%s", v->text);
		post(c, m);
		goto out;
	}
	for (int i = 0; !v->runnable && i < v->nroots; i++)
		json_array_append_new(blockers, json_sprintf("%s: %s", chk_id_name(v->roots[i]),
						    res->res[v->roots[i]].summary));
	memset(&in, 0, sizeof(in));
	in.conf = c->app->conf;
	in.domain = k->domains[0];
	in.target = k->targets[0];
	in.provider = k->provider;
	in.provider_type = k->provider_type;
	in.provider_min_ttl = k->provider_min_ttl;
	in.mx = &k->mx;
	in.sts_txt = &k->sts;
	in.observed_ttl = res->facts.mx_ttl_max;
	in.policy = mx_plan_policy_now(&res->facts);
	in.blockers = blockers;
	in.now = mx_now(&c->clock);
	in.exchange = c->exo != NULL;
	mx_plan_build(&in, &m->plan, &m->err);
	post(c, m);
out:
	json_decref(blockers);
}

/* Moves the checks along; finished batches go to the terminal. */
static void advance_tasks(struct ui_core *c)
{
	for (struct chk_task **pk = &c->tasks; *pk;) {
		struct chk_task *k = *pk;

		if (!chk_advance(k->job)) {
			pk = &k->next;
			continue;
		}
		*pk = k->next;
		if (k->plan) {
			finish_plan(c, k);
		} else {
			for (size_t i = 0; i < k->n; i++)
				if (!k->posted[i])
					post_checked(c, k, i);
		}
		task_free(k);
	}
}

/* ---- commands ---- */

/* mx_work_fn: [exchange]: the tenant's accepted domains (Get-AcceptedDomain). */
static void tenant_run(struct mx_worker *w, void *arg)
{
	struct ui_msg *m = arg;
	struct exo_ctx *x = mx_worker_exo(w, &m->err);

	if (x && exo_accepted_domains(x, &m->accepted, &m->naccepted, &m->err))
		mx_err_set(&m->err, m->err.rc,
		    "the accepted domains of tenant %.60s could not be read: %.180s", exo_tenant(x),
		    m->err.msg);
}

static void tenant_free(void *arg, bool orphan)
{
	(void)orphan;
	ui_msg_free(arg);
}

/* [exchange]: the tenant's accepted domains for the domain list, read in the pool. */
static void read_tenant(struct ui_core *c)
{
	struct ui_msg *m;

	if (c->tenant_work)
		return; /* already being read: its answer serves this request too */
	if (!(m = msg_new(UI_MSG_TENANT, c->exo ? exo_tenant(c->exo) : "")))
		return;
	if (!c->exo) {
		mx_err_set(&m->err, MX_EINVAL,
		    "the config has no [exchange] section (see docs/exchange.md)");
	} else if (core_workers(c, &m->err)) {
		c->tenant_work =
		    mx_work_start(c->workers, "exchange", tenant_run, m, tenant_free, &m->err);
		if (c->tenant_work) {
			c->tenant_msg = m;
			return;
		}
	}
	post(c, m);
}

static void advance_tenant(struct ui_core *c)
{
	if (!c->tenant_work || !mx_work_done(c->workers, c->tenant_work))
		return;
	mx_work_end(c->workers, c->tenant_work);
	c->tenant_work = NULL;
	post(c, c->tenant_msg);
	c->tenant_msg = NULL;
}

static void run_cmd(struct ui_core *c, struct ui_cmd *cmd)
{
	struct mx_err err;
	struct pub *p;
	int rc = MX_OK;

	mx_err_clear(&err);
	switch (cmd->kind) {
	case UI_CMD_CHECK:
		start_check(c, cmd);
		return;
	case UI_CMD_PLAN:
		start_plan(c, cmd);
		return;
	case UI_CMD_START:
		rc = engine_fresh(c, &err);
		if (!rc)
			rc = mx_engine_start(c->engine, cmd->domain, cmd->target, cmd->provider,
			    cmd->plan_json, &err);
		break;
	case UI_CMD_RESUME:
		/* Other runs may go on: only this domain's stopped run leaves the engine. */
		if (c->engine)
			mx_engine_forget(c->engine, cmd->domain);
		rc = engine_fresh(c, &err);
		if (!rc)
			rc = mx_engine_resume(c->engine, cmd->domain, &err);
		break;
	case UI_CMD_ROLLBACK:
		/* The forward run stops where it is and the rollback takes over from there; the
		 * other domains' runs go on. */
		if (c->engine) {
			mx_engine_stop_domain(c->engine, cmd->domain);
			mx_engine_forget(c->engine, cmd->domain);
		}
		rc = engine_fresh(c, &err);
		if (!rc)
			rc = mx_engine_rollback(c->engine, cmd->domain, &err);
		break;
	case UI_CMD_STOP:
		if (c->engine)
			mx_engine_stop(c->engine);
		break;
	case UI_CMD_TENANT:
		read_tenant(c);
		return;
	case UI_CMD_ANSWER:
		if (c->engine)
			rc = mx_engine_answer(c->engine, cmd->domain, cmd->flag, &err);
		break;
	}
	if ((p = pub_find(c, cmd->domain[0] ? cmd->domain : "-", cmd->domain[0] != '\0')))
		p->stale = true;
	if (rc)
		post_fail(c, cmd->domain, &err);
}

/* Takes the queued commands; true when the terminal asked the loop to end. */
static bool take_cmds(struct ui_core *c, struct ui_cmd **out)
{
	bool quit;

	drain(c->cmd_pipe[0]);
	pthread_mutex_lock(&c->lock);
	*out = c->cmds;
	c->cmds = NULL;
	quit = c->quit;
	pthread_mutex_unlock(&c->lock);
	return quit;
}

/* ---- the loop ---- */

static void free_tasks(struct chk_task **list)
{
	while (*list) {
		struct chk_task *k = *list;

		*list = k->next;
		task_free(k);
	}
}

static void *core_main(void *arg)
{
	struct ui_core *c = arg;
	struct mx_loop loop;
	struct jnl_run *runs = NULL;
	size_t nruns = 0;
	struct mx_err err;
	struct ui_cmd *cmds, *cmd;
	bool quit = false;

	/* The screen's thread comes first when the machine is busy: this thread, and every
	 * thread it starts (the resolvers'), runs a few steps nicer, so that the
	 * drawing of a key's answer waits for no burst of checks or journal writes. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), UI_CORE_NICE);
	/* Every domain with a run in the journal, for the terminal's list. */
	if (!jnl_run_list(c->jnl, &runs, &nruns, &err))
		for (size_t i = 0; i < nruns; i++)
			pub_find(c, runs[i].domain, true);
	for (size_t i = 0; i < nruns; i++)
		jnl_run_clear(&runs[i]);
	free(runs);
	publish(c);
	post(c, msg_new(UI_MSG_READY, NULL));
	while (!quit) {
		int fds[12], n = 0, timeout = 1000, ms, due;

		quit = take_cmds(c, &cmds);
		while ((cmd = cmds)) {
			cmds = cmd->next;
			if (!quit)
				run_cmd(c, cmd);
			cmd_free(cmd);
			c->changed = true;
		}
		if (quit)
			break;
		if (c->engine && !mx_engine_idle(c->engine))
			c->changed = true;
		pump_engine(c);
		mx_workers_drain(c->workers);
		advance_exo(c);
		advance_reads(c);
		advance_tenant(c);
		advance_tasks(c);
		flush_events(c);
		ms = refresh_held(c);
		due = publish_due(c);
		if (ms >= 0 && (due < 0 || ms < due))
			due = ms;

		if (c->engine_ready)
			timeout = 0;
		else if (c->engine && !mx_engine_idle(c->engine) && c->wake) {
			if (!mx_engine_io_pending(c->engine) &&
			    mx_clock_warp_to(&c->clock, c->wake))
				timeout = 0;
			else
				timeout = mx_clock_wait_ms(&c->clock, c->wake, timeout);
		}
		if (due >= 0 && due < timeout)
			timeout = due;
		atomic_store(&c->offset, (long long)c->clock.offset);
		fds[n++] = c->cmd_pipe[0];
		if (c->workers)
			fds[n++] = mx_workers_fd(c->workers);
		if (c->engine)
			n += mx_engine_fds(c->engine, fds + n, 4);
		for (struct chk_task *k = c->tasks; k; k = k->next) {
			if (n < 6 && chk_fd(k->job) >= 0)
				fds[n++] = chk_fd(k->job);
			ms = chk_timeout_ms(k->job);
			if (ms >= 0 && ms < timeout)
				timeout = ms;
		}
		if (c->tasks) {
			n += dns_fds(c->chk_dns, fds + n, 12 - n);
			ms = dns_timeout_ms(c->chk_dns);
			if (ms >= 0 && ms < timeout)
				timeout = ms;
		}
		loop.dns = c->dns;
		loop.http = c->http;
		mx_loop_once(&loop, fds, n, timeout, NULL);
		if (c->tasks)
			dns_process(c->chk_dns, NULL);
	}
	/* The way out: every run stops where it is, and the terminal learns so. The calls on
	 * the pool are let go of and end within their timeouts (ui_core_stop waits a few
	 * seconds for this thread, then leaves it to end with the process). */
	if (c->engine)
		mx_engine_stop(c->engine);
	free_tasks(&c->tasks);
	free_tasks(&c->exo_tasks);
	free_tasks(&c->read_tasks);
	if (c->tenant_work)
		mx_work_abandon(c->workers, c->tenant_work);
	c->tenant_work = NULL;
	mx_workers_free(c->workers);
	c->workers = NULL;
	flush_events(c);
	for (size_t i = 0; i < c->npubs; i++)
		c->pubs[i].stale = true;
	publish(c);
	pthread_mutex_lock(&c->lock);
	c->ended = true;
	pthread_mutex_unlock(&c->lock);
	wake_up(c->msg_pipe[1]);
	return NULL;
}

int ui_core_new(
    struct ui_core **out, const struct mx_app *app, const char *clock_spec, struct mx_err *err)
{
	struct ui_core *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return mx_err_set(err, MX_ENOMEM, "out of memory");
	c->app = app;
	c->cmd_pipe[0] = c->cmd_pipe[1] = c->msg_pipe[0] = c->msg_pipe[1] = -1;
	c->msgs_tail = &c->msgs;
	c->evq_tail = &c->evq;
	c->sink.fn = on_event;
	c->sink.arg = c;
	pthread_mutex_init(&c->lock, NULL);
	*out = c;
	rc = mx_clock_parse(&c->clock, clock_spec, err);
	if (rc)
		return rc;
	c->warps = c->clock.warp;
	if (pipe2(c->cmd_pipe, O_CLOEXEC | O_NONBLOCK) ||
	    pipe2(c->msg_pipe, O_CLOEXEC | O_NONBLOCK))
		return mx_err_set(err, MX_EIO, "cannot create a pipe: %s", strerror(errno));
	rc = jnl_open(app->state_path, &c->jnl, err);
	if (!rc)
		rc = dns_ctx_new(&c->dns, app->resolver_conf, err);
	if (!rc)
		rc = dns_ctx_new(&c->chk_dns, app->resolver_conf, err);
	if (!rc)
		rc = http_ctx_new(&c->http, app->cacert, err);
	if (!rc && exo_configured(app->conf))
		rc = exo_open(app->conf, c->http, &c->exo, err);
	if (!rc)
		rc = engine_open(c, err);
	if (rc)
		return rc;
	if (pthread_create(&c->thread, NULL, core_main, c))
		return mx_err_set(err, MX_EIO, "cannot start the wizard's engine thread");
	c->started = true;
	return MX_OK;
}

void ui_core_stop(struct ui_core *c)
{
	struct timespec until;

	if (!c || !c->started)
		return;
	pthread_mutex_lock(&c->lock);
	c->quit = true;
	pthread_mutex_unlock(&c->lock);
	wake_up(c->cmd_pipe[1]);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 5;
	if (pthread_timedjoin_np(c->thread, NULL, &until)) {
		/* A provider call still waits for its timeout: the thread ends with the
		 * process; the journal already holds every run's position. */
		pthread_detach(c->thread);
		c->detached = true;
	}
	c->started = false;
}

void ui_core_free(struct ui_core *c)
{
	struct ui_msg *m;
	struct ui_cmd *cmd;

	if (!c)
		return;
	ui_core_stop(c);
	if (c->detached)
		return; /* the thread still uses it all; it ends with the process */
	free_tasks(&c->tasks);
	free_tasks(&c->exo_tasks);
	free_tasks(&c->read_tasks);
	mx_engine_free(c->engine);
	exo_close(c->exo);
	http_ctx_free(c->http);
	dns_ctx_free(c->chk_dns);
	dns_ctx_free(c->dns);
	jnl_close(c->jnl);
	while ((m = c->msgs)) {
		c->msgs = m->next;
		ui_msg_free(m);
	}
	while ((cmd = c->cmds)) {
		c->cmds = cmd->next;
		cmd_free(cmd);
	}
	for (int i = 0; i < 2; i++) {
		if (c->cmd_pipe[i] >= 0)
			close(c->cmd_pipe[i]);
		if (c->msg_pipe[i] >= 0)
			close(c->msg_pipe[i]);
	}
	free(c->pubs);
	free(c->touched);
	nameidx_free(&c->pub_idx);
	while ((m = c->evq)) {
		c->evq = m->next;
		ui_msg_free(m);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}
