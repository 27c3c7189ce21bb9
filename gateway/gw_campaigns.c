/* gw_campaigns: the campaign versions in memory (load, SIGHUP reload, retire) and the archive's phone-number hash key. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "archive.h"
#include "campaign.h"
#include "gw.h"
#include "gw_int.h"
#include "log.h"
#include "optout.h"

/* ---- campaigns ---- */

/* The current version of a campaign id, or -1. */
static int gw_camp_current(const struct gw *g, const char *id)
{
	for (int i = 0; i < g->ncamps; i++)
		if (g->camps[i].current && strcmp(g->camps[i].c->id, id) == 0)
			return i;
	return -1;
}

/* Reads the campaigns folder. At start (initial) any broken file is an error
 * and nothing is kept. On reload a broken file is refused with its errors
 * logged and the version loaded before from that file stays current; a good
 * file with a new version becomes current and the old version is retired
 * (kept while surveys that started with it may still run). Returns the number
 * of refused files on reload, or 0 / negative errno at start. */
int gw_load_campaigns(struct gw *g, int initial, char *err, size_t errlen)
{
	DIR *d = opendir(g->cfg->campaigns_dir);
	if (!d) {
		snprintf(err, errlen, "%s: campaigns: %s", g->cfg->file, strerror(errno));
		return -errno;
	}
	struct dirent *de;
	char *names[GW_MAX_CAMPAIGNS];
	int n = 0, rc = 0, refused = 0;
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (de->d_name[0] == '.' || l < 5)
			continue;
		if (strcmp(de->d_name + l - 5, ".yaml") != 0 && strcmp(de->d_name + l - 4, ".yml") != 0)
			continue;
		if (n == GW_MAX_CAMPAIGNS) {
			snprintf(err, errlen, "%s: more than %d campaign files", g->cfg->campaigns_dir, GW_MAX_CAMPAIGNS);
			rc = -E2BIG;
			break;
		}
		names[n++] = strdup(de->d_name);
	}
	closedir(d);
	if (rc < 0 && initial) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		return rc;
	}
	/* sorted, so that a duplicate id is reported the same way every time */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	struct campaign *fresh[GW_MAX_CAMPAIGNS];
	char *broken[GW_MAX_CAMPAIGNS]; /* paths of refused files */
	int nfresh = 0, nbroken = 0;
	rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		char path[4096], e[8192];
		if (!names[i])
			continue;
		snprintf(path, sizeof path, "%s/%s", g->cfg->campaigns_dir, names[i]);
		struct campaign *c = NULL;
		int lr = campaign_load(path, &c, e, sizeof e);
		if (lr == 0 && gw_ussd_check_campaign(g, c, e, sizeof e) < 0) {
			/* channel: ussd needs a link that carries USSD */
			campaign_free(c);
			c = NULL;
			lr = -EINVAL;
		}
		for (int k = 0; lr == 0 && k < nfresh; k++) {
			if (strcmp(fresh[k]->id, c->id) == 0) {
				snprintf(e, sizeof e, "%s:1: campaign id '%s' is also used by %s", path, c->id, fresh[k]->file);
				campaign_free(c);
				c = NULL;
				lr = -EINVAL;
			}
		}
		if (lr == 0) {
			fresh[nfresh++] = c;
			continue;
		}
		if (initial) {
			snprintf(err, errlen, "%s", e);
			rc = lr;
			break;
		}
		refused++;
		broken[nbroken++] = strdup(path);
		/* one log line per error line */
		for (char *line = e, *nl; line && *line; line = nl) {
			nl = strchr(line, '\n');
			if (nl)
				*nl++ = '\0';
			log_error("reload file=%s msg=\"campaign refused, the version loaded before stays\" err=\"%s\"",
			          path, line);
		}
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	if (rc == 0 && initial && nfresh == 0) {
		snprintf(err, errlen, "%s: no campaign files (*.yaml) in %s", g->cfg->file, g->cfg->campaigns_dir);
		rc = -ENOENT;
	}
	if (rc < 0) {
		for (int i = 0; i < nfresh; i++)
			campaign_free(fresh[i]);
		return rc;
	}
	int64_t now = (int64_t)time(NULL);
	/* current versions whose file is gone (not merely broken) are retired */
	for (int i = 0; i < g->ncamps; i++) {
		struct gw_camp *gc = &g->camps[i];
		if (!gc->current)
			continue;
		int keep = 0;
		for (int k = 0; k < nfresh && !keep; k++)
			keep = strcmp(fresh[k]->id, gc->c->id) == 0;
		for (int k = 0; k < nbroken && !keep; k++)
			keep = strcmp(broken[k], gc->c->file) == 0;
		if (!keep) {
			gc->current = 0;
			gc->retire_at = now + gc->c->expire_after + GW_RETIRE_MARGIN;
			log_info("reload campaign=%s version=%s msg=\"file removed: no new surveys\"", gc->c->id,
			         gc->c->version);
		}
	}
	for (int k = 0; k < nfresh; k++) {
		struct campaign *c = fresh[k];
		int cur = gw_camp_current(g, c->id);
		if (cur >= 0 && strcmp(g->camps[cur].c->version, c->version) == 0) {
			campaign_free(c); /* unchanged */
			continue;
		}
		/* a version seen before (edited back) is made current again */
		int old = -1;
		for (int i = 0; i < g->ncamps && old < 0; i++)
			if (strcmp(g->camps[i].c->id, c->id) == 0 && strcmp(g->camps[i].c->version, c->version) == 0)
				old = i;
		if (old < 0 && g->ncamps == GW_MAX_VERSIONS) {
			log_error("reload campaign=%s msg=\"too many versions in memory, refused\"", c->id);
			campaign_free(c);
			refused++;
			continue;
		}
		if (cur >= 0) {
			g->camps[cur].current = 0;
			g->camps[cur].retire_at = now + g->camps[cur].c->expire_after + GW_RETIRE_MARGIN;
		}
		if (old >= 0) {
			campaign_free(c);
			g->camps[old].current = 1;
			c = g->camps[old].c;
		} else {
			g->camps[g->ncamps].c = c;
			g->camps[g->ncamps].current = 1;
			g->camps[g->ncamps].retire_at = 0;
			g->ncamps++;
		}
		if (g->archive) {
			char e[512];
			if (archive_put_campaign(g->archive, c, e, sizeof e) < 0)
				log_error("reload campaign=%s msg=\"cannot record its questions in the archive\" err=\"%s\"",
				          c->id, e);
		}
		if (!initial)
			log_info("reload campaign=%s version=%s file=%s msg=\"loaded\"", c->id, c->version, c->file);
	}
	for (int i = 0; i < nbroken; i++)
		free(broken[i]);
	return initial ? 0 : refused;
}

/* Frees replaced versions whose surveys have all run out. */
void gw_retire_campaigns(struct gw *g, int64_t now)
{
	for (int i = 0; i < g->ncamps;) {
		struct gw_camp *gc = &g->camps[i];
		if (!gc->current && gc->retire_at <= now) {
			log_info("campaign=%s version=%s msg=\"old version released\"", gc->c->id, gc->c->version);
			campaign_free(gc->c);
			g->camps[i] = g->camps[--g->ncamps];
			continue;
		}
		i++;
	}
}

int gw_reload(struct gw *g)
{
	char err[256];
	int refused = gw_load_campaigns(g, 0, err, sizeof err);
	if (refused < 0) {
		log_error("reload msg=\"campaigns folder not readable, nothing changed\" err=\"%s\"", err);
		g->counters[GW_RELOAD_ERR]++;
		return refused;
	}
	g->counters[refused ? GW_RELOAD_ERR : GW_RELOADS]++;
	int ncur = 0;
	for (int i = 0; i < g->ncamps; i++)
		ncur += g->camps[i].current;
	log_info("reload campaigns=%d versions_in_memory=%d refused=%d", ncur, g->ncamps, refused);
	gw_optout_check(g); /* the operator's opt-out changes (hailong optout) */
	return refused;
}

/* The version `ver` of campaign `id`; with ver NULL (or a version no longer
 * in memory) the current one. NULL when there is none. */
const struct campaign *gw_campaign(const struct gw *g, const char *id, const char *ver)
{
	for (int i = 0; ver && i < g->ncamps; i++)
		if (strcmp(g->camps[i].c->id, id) == 0 && strcmp(g->camps[i].c->version, ver) == 0)
			return g->camps[i].c;
	int cur = gw_camp_current(g, id);
	return cur >= 0 ? g->camps[cur].c : NULL;
}

/* ---- the phone-number hash of the archive ---- */

/* The key comes from config (privacy.hash_key); without one it is generated
 * once and kept beside the database (DB.key, mode 0600), so hashes of the same
 * citizen stay comparable across restarts. */
int gw_hash_key(struct gw *g, char *err, size_t errlen)
{
	char path[4096];
	snprintf(path, sizeof path, "%s.key", g->cfg->sqlite_path);
	int had = g->cfg->hash_key || access(path, F_OK) == 0;
	int rc = optout_key(g->cfg->hash_key, g->cfg->sqlite_path, 1, g->hash_key, err, errlen);
	if (rc == 0 && !had)
		log_info("privacy msg=\"generated the msisdn hash key\" file=%s", path);
	return rc;
}

void gw_msisdn_hash(const struct gw *g, const char *msisdn, char out[65])
{
	optout_hash(g->hash_key, msisdn, out);
}

