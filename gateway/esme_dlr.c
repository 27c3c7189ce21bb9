/* esme_dlr: delivery receipts: recent message ids, receipt text and TLV parsing, receipts held for messages not yet reported. */
#include "esme_int.h"

/* ---------- recent message ids ---------- */


static uint32_t idx_text(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % ESME_IDX_BUCKETS;
}

static uint32_t idx_num(uint64_t v)
{
	return (uint32_t)((v ^ v >> 29) * 0x9E3779B97F4A7C15ull >> 40) % ESME_IDX_BUCKETS;
}

/* The bucket of ring entry x in index k, or -1 when it is not in it. */
static int idx_bucket(const struct esme_id *x, int k)
{
	if (k == IDX_TEXT)
		return (int)idx_text(x->id);
	if (k == IDX_DEC)
		return x->has_dec ? (int)idx_num(x->dec) : -1;
	return x->has_hex ? (int)idx_num(x->hex) : -1;
}

static void idx_unlink(struct esme_idmap *m, int pos)
{
	struct esme_id *x = &m->ring[pos];
	for (int k = 0; k < 3; k++) {
		int b = idx_bucket(x, k);
		if (b < 0)
			continue;
		int32_t *pp = &m->head[k][b];
		while (*pp >= 0 && *pp != pos)
			pp = &m->ring[*pp].next[k];
		if (*pp == pos)
			*pp = x->next[k];
	}
	x->used = 0;
}

/* Remember that the SMSC called a part `id`; its message is `msg` (the id of
 * part 1, the one on_sent reported). Oldest entries are overwritten. */
void esme_idmap_put(struct esme *e, const char *id, const char *msg)
{
	if (!e->idmap || !id[0])
		return;
	struct esme_idmap *m = e->idmap;
	int pos = m->next;
	struct esme_id *x = &m->ring[pos];
	if (x->used)
		idx_unlink(m, pos);
	snprintf(x->id, sizeof x->id, "%s", id);
	snprintf(x->msg, sizeof x->msg, "%s", msg);
	x->has_dec = (uint8_t)smpp_parse_u64(x->id, 10, &x->dec);
	x->has_hex = (uint8_t)smpp_parse_u64(x->id, 16, &x->hex);
	x->used = 1;
	for (int k = 0; k < 3; k++) {
		int b = idx_bucket(x, k);
		x->next[k] = -1;
		if (b >= 0) {
			x->next[k] = m->head[k][b];
			m->head[k][b] = (int32_t)pos;
		}
	}
	m->next = (pos + 1) % ESME_IDMAP;
	if (m->n < ESME_IDMAP)
		m->n++;
}

/* How many puts ago ring entry pos was written (0 = the newest). */
static int idmap_age(const struct esme_idmap *m, int pos)
{
	return (m->next - 1 - pos + ESME_IDMAP) % ESME_IDMAP;
}

/* The newest entry of chain k from bucket of v whose number (decimal or hex,
 * as `field` says) equals v; its age in *age. */
static const struct esme_id *idmap_num(const struct esme_idmap *m, int k, uint64_t v, int *age)
{
	for (int pos = m->head[k][idx_num(v)]; pos >= 0; pos = m->ring[pos].next[k]) {
		const struct esme_id *x = &m->ring[pos];
		if (k == IDX_DEC ? x->dec == v : x->hex == v) {
			*age = idmap_age(m, pos);
			return x; /* chains are newest first */
		}
	}
	return NULL;
}

/* The message id (as on_sent gave it) of a receipt's id, written in hex or
 * decimal; an exact match wins over a numeric one; newest first. NULL when
 * the id is not among the recent ones. */
static const char *idmap_find(const struct esme *e, const char *id)
{
	if (!e->idmap || !id[0])
		return NULL;
	const struct esme_idmap *m = e->idmap;
	for (int pos = m->head[IDX_TEXT][idx_text(id)]; pos >= 0; pos = m->ring[pos].next[IDX_TEXT])
		if (strcmp(m->ring[pos].id, id) == 0)
			return m->ring[pos].msg;
	/* the same number written the other way: a decimal id against the hex
	 * one the SMSC gave (or the reverse), or leading zeros */
	uint64_t dec = 0, hex = 0;
	int has_dec = smpp_parse_u64(id, 10, &dec), has_hex = smpp_parse_u64(id, 16, &hex);
	const struct esme_id *best = NULL;
	int best_age = ESME_IDMAP;
	for (int k = IDX_DEC; k <= IDX_HEX; k++) {
		for (int w = 0; w < 2; w++) {
			if (!(w == 0 ? has_dec : has_hex))
				continue;
			int age;
			const struct esme_id *x = idmap_num(m, k, w == 0 ? dec : hex, &age);
			if (x && age < best_age) {
				best = x;
				best_age = age;
			}
		}
	}
	return best ? best->msg : NULL;
}

/* ---------- receipts ---------- */

/* Case-insensitive search of `needle` in s (NUL-terminated). */
static const char *find_ci(const char *s, const char *needle)
{
	size_t n = strlen(needle);
	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return s;
	return NULL;
}

/* "id:" at the start or after a blank (so "xid:" does not count). */
const char *esme_find_key(const char *s, const char *key)
{
	const char *p = s;
	while ((p = find_ci(p, key)) != NULL) {
		if (p == s || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n' || p[-1] == '\r')
			return p;
		p++;
	}
	return NULL;
}

/* Copy the token after key (spaces skipped) into out. Returns 1 if found. */
static int receipt_field(const char *s, const char *key, char *out, size_t cap)
{
	const char *p = esme_find_key(s, key);
	if (!p)
		return 0;
	p += strlen(key);
	while (*p == ' ')
		p++;
	size_t n = 0;
	while (p[n] && p[n] != ' ' && p[n] != '\t' && p[n] != '\r' && p[n] != '\n' && n + 1 < cap) {
		out[n] = p[n];
		n++;
	}
	out[n] = '\0';
	return 1;
}

static enum esme_dlr stat_from_text(const char *st)
{
	static const struct {
		const char *name;
		enum esme_dlr v;
	} map[] = {
	    {"DELIVRD", ESME_DLR_DELIVERED}, {"DELIVERED", ESME_DLR_DELIVERED},
	    {"EXPIRED", ESME_DLR_EXPIRED},   {"DELETED", ESME_DLR_DELETED},
	    {"UNDELIV", ESME_DLR_UNDELIVERABLE}, {"UNDELIVERABLE", ESME_DLR_UNDELIVERABLE},
	    {"ACCEPTD", ESME_DLR_ACCEPTED},  {"ACCEPTED", ESME_DLR_ACCEPTED},
	    {"UNKNOWN", ESME_DLR_UNKNOWN},   {"REJECTD", ESME_DLR_REJECTED},
	    {"REJECTED", ESME_DLR_REJECTED}, {"ENROUTE", ESME_DLR_ENROUTE},
	    {"ACKED", ESME_DLR_ENROUTE},     {"BUFFRED", ESME_DLR_ENROUTE},
	    {"BUFFERED", ESME_DLR_ENROUTE},
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcasecmp(st, map[i].name) == 0)
			return map[i].v;
	return ESME_DLR_UNKNOWN;
}

/* text: the decoded short message (may be NULL). Cuts at "text:" so the
 * original text quoted in the receipt cannot fake its fields. */
/* A receipt in text form without the esm_class bits or TLVs that say so: it
 * must start with "id:" and have "stat:" before any "text:", so that a
 * citizen's reply that merely contains "id:" and "stat:" stays a reply. */
int esme_text_is_receipt(char *text)
{
	if (!text)
		return 0;
	char *t = (char *)esme_find_key(text, "text:");
	if (t)
		*t = '\0';
	const char *p = text;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strncasecmp(p, "id:", 3) != 0)
		return 0;
	return esme_find_key(text, "stat:") != NULL;
}

static void receipt_deliver(struct esme *e, uint32_t cmd, uint32_t seq, const char *rid, const char *known,
                            enum esme_dlr state, int answer);
static int held_blocked(const struct esme *root, const struct esme_held *hd);

void esme_handle_receipt(struct esme *e, const struct smpp_hdr *h, const struct smpp_sm *sm,
                         const char *text)
{
	char id[66] = "", st[32] = "";
	enum esme_dlr state = ESME_DLR_UNKNOWN;
	if (sm->has_receipted_id && sm->receipted_id[0])
		snprintf(id, sizeof id, "%s", sm->receipted_id);
	else if (text)
		receipt_field(text, "id:", id, sizeof id);
	if (sm->has_message_state)
		state = sm->message_state >= 1 && sm->message_state <= 8 ? (enum esme_dlr)sm->message_state
		                                                           : ESME_DLR_UNKNOWN;
	else if (text && receipt_field(text, "stat:", st, sizeof st))
		state = stat_from_text(st);
	if (!id[0]) {
		log_warn("[%s] event=receipt_unparsed seq=%u esm_class=0x%02x", e->name, h->seq,
		         sm->esm_class);
		esme_send_sm_resp(e, h->id | 0x80000000u, 0, h->seq);
		return;
	}
	struct esme *root = e->parent ? e->parent : e;
	const char *known = idmap_find(root, id);
	struct esme_held probe = {.wm = root->submits};
	snprintf(probe.id, sizeof probe.id, "%s", id);
	if (!known && root->idmap && root->nheld < ESME_HELD_MAX && held_blocked(root, &probe)) {
		struct esme_held *hd = calloc(1, sizeof *hd);
		if (hd) {
			*hd = probe;
			hd->conn = e;
			hd->gen = e->gen;
			hd->cmd = h->id | 0x80000000u;
			hd->seq = h->seq;
			hd->state = state;
			hd->at = esme_now_ms();
			TAILQ_INSERT_TAIL(&root->held, hd, link);
			root->nheld++;
			log_debug("[%s] event=receipt_held id=%s msg=\"its message is still being submitted\"", e->name,
			          id);
			if (!evtimer_pending(root->held_ev, NULL))
				esme_arm(root->held_ev, 500);
			return;
		}
	}
	receipt_deliver(e, h->id | 0x80000000u, h->seq, id, known, state, 1);
}

/* The receipt, with the message id it names (known: from the ring, or NULL),
 * to the gateway; answered with what on_receipt says, unless answer is 0 (its
 * connection went: the SMSC sends it again, and the gateway records a message
 * once). */
static void receipt_deliver(struct esme *e, uint32_t cmd, uint32_t seq, const char *rid, const char *known,
                            enum esme_dlr state, int answer)
{
	char id[66];
	snprintf(id, sizeof id, "%s", rid);
	if (known && strcmp(known, id) != 0) {
		log_info("[%s] event=receipt msgid=%s receipt_id=%s state=%d", e->name, known, id,
		         (int)state);
		snprintf(id, sizeof id, "%s", known);
	} else {
		log_info("[%s] event=receipt msgid=%s state=%d%s", e->name, id, (int)state,
		         known ? "" : " (not a recent id)");
	}
	/* answered after the gateway stored it, like an MO (the owner's
	 * callbacks: an rx link forwards to them) */
	if (e->cbs->on_receipt_later) {
		uint64_t token = answer ? (uint64_t)(e->gen & ESME_GEN_MASK) << 33 |
		                              (uint64_t)(cmd == SMPP_DATA_SM_RESP) << 32 | seq
		                        : 0;
		e->cbs->on_receipt_later(e->arg, e, token, id, state);
		return;
	}
	uint32_t status = e->cbs->on_receipt ? e->cbs->on_receipt(e->arg, e, id, state) : 0;
	if (answer)
		esme_send_sm_resp(e, cmd, status, seq);
}

/* 1 when a receipt whose id is not known (yet) may be for a message still
 * being submitted: a submit_sm written before the receipt came is still
 * unanswered (its id may be the receipt's), or a message not reported yet
 * has a part the SMSC accepted under that id. Receipts for anything else
 * (an id older than the ring, a peer's message) are not held. */
static int held_blocked(const struct esme *root, const struct esme_held *hd)
{
	for (int i = 0; i < root->window; i++)
		if (root->slots[i].seq != 0 && root->slots[i].sent_no <= hd->wm)
			return 1;
	const struct esme_out *m;
	TAILQ_FOREACH(m, &root->msgs, link) {
		if (m->finished)
			continue;
		for (int i = 0; i < m->nparts; i++)
			if (m->part[i].id[0] && esme_msgid_eq(m->part[i].id, hd->id))
				return 1;
	}
	return 0;
}

/* Held receipts: those whose message is now known go to the gateway; those
 * that can no longer be matched (no message left in submission, or too old)
 * go as they came. One whose link went is still passed on once its message
 * is known (the response may have come just before the SMSC unbound, or on
 * the transmitter after the receiver link went), unanswered: the SMSC sends
 * it again, and the gateway records a message once. One whose message never
 * becomes known is dropped then. Runs from its own event, never inside a
 * callback. */
static void held_run(struct esme *root)
{
	int64_t now = esme_now_ms();
	struct esme_held *hd, *next;
	for (hd = TAILQ_FIRST(&root->held); hd; hd = next) {
		next = TAILQ_NEXT(hd, link);
		struct esme *c = hd->conn;
		int gone = c->gen != hd->gen || !c->bev || (c->state != ES_BOUND && c->state != ES_UNBINDING);
		const char *known = idmap_find(root, hd->id);
		if (!known && held_blocked(root, hd) && now - hd->at < ESME_HELD_MS)
			continue;
		TAILQ_REMOVE(&root->held, hd, link);
		root->nheld--;
		if (gone && (!known || root->state == ES_DONE)) {
			log_info("[%s] event=receipt_dropped id=%s (connection gone: the SMSC sends it again)", c->name,
			         hd->id);
		} else {
			if (gone)
				log_info("[%s] event=receipt_unanswered id=%s msgid=%s (connection gone: recorded now, "
				         "the SMSC sends it again)",
				         c->name, hd->id, known);
			receipt_deliver(c, hd->cmd, hd->seq, hd->id, known, hd->state, !gone);
		}
		free(hd);
	}
	if (root->nheld > 0 && !evtimer_pending(root->held_ev, NULL))
		esme_arm(root->held_ev, 500);
}

void esme_held_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	held_run(arg);
}

