/* gw_reload: SIGHUP for the SMPP side: changed `smpp` entries re-bind, new
 * ones bind, unchanged ones keep their session, routes apply at once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_int.h"
#include "log.h"

/* The old session of a changed entry, draining before the new one binds. */
struct gw_rebind {
	struct gw *g;
	int i;                 /* its index in g->esme and g->cfg->smsc */
	struct esme *old;
};

void gw_rebind_free(struct gw *g)
{
	for (int i = 0; i < CONFIG_MAX_SMSC; i++) {
		free(g->rebinding[i]);
		g->rebinding[i] = NULL;
	}
}

/* The old session finished its drain: free it, bind the new one, and put
 * back in the outbox what the old one never confirmed (its entries stay in
 * our sending list, held by no session now: gw_sweep_sending gives them back). */
static void gw_rebind_done(void *arg)
{
	struct gw_rebind *rb = arg;
	struct gw *g = rb->g;
	int i = rb->i;
	g->rebinding[i] = NULL;
	g->esme_epoch[i]++; /* replies and receipts still owed to it are dropped */
	esme_free(rb->old); /* (we are its done callback: allowed) */
	free(rb);
	int dropped = 0;
	for (struct gw_inflight **pp = &g->inflight; *pp;) {
		struct gw_inflight *f = *pp;
		if (f->smsc == i) {
			*pp = f->next;
			free(f->json);
			free(f);
			dropped++;
		} else {
			pp = &f->next;
		}
	}
	g->bound[i] = 0;
	g->parts_avg[i] = 1.0;
	g->esme[i] = esme_new(g->base, &g->cfg->smsc[i], &gw_esme_cbs, g);
	if (!g->esme[i]) {
		/* keep the index valid for the pumps: they skip a NULL session */
		log_error("[%s] event=rebind_failed msg=\"cannot create the SMPP session; restart hailongd\"",
		          g->cfg->smsc[i].name);
	} else {
		log_info("[%s] event=rebind host=%s port=%d unconfirmed_given_back=%d", g->cfg->smsc[i].name,
		         g->cfg->smsc[i].host, g->cfg->smsc[i].port, dropped);
	}
	gw_sweep_sending(g);
}

int gw_reload_smsc(struct gw *g, struct config *live, struct config *fresh, char *err, size_t errlen)
{
	int where[CONFIG_MAX_SMSC]; /* live index -> fresh index */
	int taken[CONFIG_MAX_SMSC] = {0};
	if (g->cfg != live) {
		snprintf(err, errlen, "internal: not the gateway's config");
		return -EINVAL;
	}
	for (int i = 0; i < live->nsmsc; i++) {
		where[i] = -1;
		for (int j = 0; j < fresh->nsmsc; j++)
			if (strcmp(live->smsc[i].name, fresh->smsc[j].name) == 0)
				where[i] = j;
		if (where[i] < 0) {
			snprintf(err, errlen, "%s: smpp %s: an entry cannot be removed by a reload (messages wait in its "
			         "outbox): put it back, or restart hailongd", fresh->file, live->smsc[i].name);
			return -EINVAL;
		}
		taken[where[i]] = 1;
	}
	for (int i = 0; i < live->nsmsc; i++) {
		if (g->rebinding[i] && !config_smsc_same_link(&live->smsc[i], &fresh->smsc[where[i]])) {
			snprintf(err, errlen, "%s: smpp %s: still re-binding after the last reload; try again in a moment",
			         fresh->file, live->smsc[i].name);
			return -EINVAL;
		}
	}
	if (g->shutting_down) {
		snprintf(err, errlen, "shutting down");
		return -EINVAL;
	}
	int changed = 0;
	for (int i = 0; i < live->nsmsc; i++) {
		struct config_smsc *f = &fresh->smsc[where[i]];
		int same = config_smsc_same_link(&live->smsc[i], f);
		/* swap: live takes the new settings (routes too), fresh keeps the
		 * old ones, which a draining session still reads */
		struct config_smsc tmp = live->smsc[i];
		live->smsc[i] = *f;
		*f = tmp;
		if (same)
			continue;
		struct gw_rebind *rb = calloc(1, sizeof *rb);
		if (!rb) {
			log_error("[%s] event=rebind_failed msg=\"out of memory: the old session stays\"", live->smsc[i].name);
			continue;
		}
		rb->g = g;
		rb->i = i;
		rb->old = g->esme[i];
		g->rebinding[i] = rb;
		changed++;
		log_info("[%s] event=rebind_start msg=\"settings changed: the session drains, then binds again\"",
		         live->smsc[i].name);
		if (rb->old)
			esme_shutdown(rb->old, g->cfg->drain_timeout_s * 2000 / 3, gw_rebind_done, rb);
		else
			gw_rebind_done(rb);
	}
	for (int j = 0; j < fresh->nsmsc; j++) {
		if (taken[j])
			continue;
		int i = live->nsmsc;
		struct config_smsc tmp = live->smsc[i]; /* an unused slot: zeroed */
		live->smsc[i] = fresh->smsc[j];
		fresh->smsc[j] = tmp;
		live->nsmsc++;
		g->parts_avg[i] = 1.0;
		g->bound[i] = 0;
		g->esme[i] = esme_new(g->base, &live->smsc[i], &gw_esme_cbs, g);
		g->nesme = live->nsmsc;
		changed++;
		if (!g->esme[i])
			log_error("[%s] event=add_failed msg=\"cannot create the SMPP session; restart hailongd\"",
			          live->smsc[i].name);
		else
			log_info("[%s] event=smsc_added host=%s port=%d", live->smsc[i].name, live->smsc[i].host,
			         live->smsc[i].port);
	}
	event_active(g->ev_outbox, 0, 0);
	return changed;
}
