/* SPDX-License-Identifier: MIT */
/* src/target.h — the one judgement of a target MX host as a person typed it: the checks
 * (`check --target-mx`, mx.target) and the wizard's target screen both ask tgt_judge, so the
 * command line and the wizard warn about the same things in the same words. */
#ifndef MX_TARGET_H
#define MX_TARGET_H

#include <stdbool.h>

#include "conf.h"
#include "dns.h"
#include "domain.h"

enum tgt_level { TGT_OK = 0, TGT_WARN, TGT_FAIL };

struct tgt_finding {
	enum tgt_level level;
	char text[300]; /* one sentence; a FAIL or WARN says what to do */
};

#define TGT_MAX_FINDINGS 8

struct tgt_judgement {
	char host[MX_NAME_MAX + 1]; /* normalized (A-labels, lower case); "" when invalid */
	bool usable;		    /* no TGT_FAIL finding: a run may use this host */
	bool mx_not_microsoft;	    /* the current MX is neither legacy nor new endpoint */
	int n;
	struct tgt_finding f[TGT_MAX_FINDINGS]; /* in the order below */
};

/* Judges `typed` as the target host for `domain` without any lookup of the target itself:
 * a valid host name; under endpoint_suffix (and not the suffix itself); not a legacy host;
 * not the domain; WARN when its first label does not start with the domain's dashed form
 * (Microsoft's hosts do: contoso-com.o-v1.mx.microsoft); and, when current_mx (the domain's
 * MX RRset as seen now, may be NULL) is known: WARN when that MX points at neither Exchange
 * Online nor the new endpoint (an inbound gateway: no cutover applies), WARN when it already
 * lists another new-endpoint host. Every finding, OK ones included, is listed so a screen can
 * show the checklist. conf and domain are borrowed. */
void tgt_judge(const struct mx_conf *conf, const char *domain, const char *typed,
    const struct dns_answer *current_mx, struct tgt_judgement *out);

/* The first finding of that level, or NULL. */
const struct tgt_finding *tgt_first(const struct tgt_judgement *j, enum tgt_level level);

#endif
