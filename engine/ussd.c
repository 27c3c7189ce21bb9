/* ussd: the decisions of a USSD session over SMPP (pure, see ussd.h). */
#include "ussd.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "text.h"

/* a == b ignoring spaces */
static int ussd_code_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a == ' ')
			a++;
		while (*b == ' ')
			b++;
		if (*a != *b)
			return 0;
		if (!*a)
			return 1;
		a++;
		b++;
	}
}

enum ussd_event ussd_classify(const struct ussd_ops *ops, int has_op, int op, const char *text,
                              const char *service_code)
{
	if (!has_op)
		return USSD_EV_NONE;
	if (op == ops->ussr_confirm)
		return USSD_EV_ANSWER;
	if (op == ops->pssr_indication)
		return text && service_code && ussd_code_eq(text, service_code) ? USSD_EV_DIAL
		                                                                : USSD_EV_DIAL_OTHER;
	return USSD_EV_RELEASED;
}

int ussd_resume_kind(const struct survey *s)
{
	if (s->status != SURVEY_ACTIVE)
		return -1;
	for (int i = 0; i < CAMPAIGN_MAX_QUESTIONS; i++)
		if (s->answers[i].state)
			return SURVEY_MSG_ITEM;
	return s->q == 0 ? SURVEY_MSG_FIRST : SURVEY_MSG_ITEM;
}

char *ussd_screen(const struct survey_out *o)
{
	size_t n = 0;
	for (int i = 0; i < o->nmsg; i++)
		n += strlen(o->msg[i]) + 1;
	if (n == 0)
		return NULL;
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t off = 0;
	for (int i = 0; i < o->nmsg; i++) {
		size_t l = strlen(o->msg[i]);
		if (off)
			s[off++] = '\n';
		memcpy(s + off, o->msg[i], l);
		off += l;
	}
	s[off] = '\0';
	return s;
}

int ussd_screen_op(const struct ussd_ops *ops, int final)
{
	return final ? ops->pssr_response : ops->ussr_request;
}

int ussd_session_alive(int64_t last_at, int64_t now, int timeout_s)
{
	return now >= last_at && now - last_at < timeout_s;
}

/* 1 when utf8 is one screen under TEXT_ENC_UNACCENTED, 0 when longer, < 0 on error. */
static int ussd_fits(const char *utf8)
{
	struct text_parts *tp = malloc(sizeof *tp);
	if (!tp)
		return -ENOMEM;
	int rc = text_split(utf8, TEXT_ENC_UNACCENTED, tp);
	if (rc == 0)
		rc = tp->coding == TEXT_CODING_GSM7 && tp->units <= CAMPAIGN_USSD_GSM;
	else if (rc == -EMSGSIZE)
		rc = 0;
	free(tp);
	return rc;
}

char *ussd_fit_screen(const char *utf8)
{
	static const char more[] = "...";
	size_t n = strlen(utf8);
	char *s = malloc(n + sizeof more);
	if (!s)
		return NULL;
	memcpy(s, utf8, n + 1);
	int rc = ussd_fits(s);
	/* shorter by a word (or a character) at a time, "..." at the end */
	while (rc == 0 && n > 0) {
		size_t cut = n;
		while (cut > 0 && s[cut - 1] != ' ' && s[cut - 1] != '\n')
			cut--;
		while (cut > 0 && (s[cut - 1] == ' ' || s[cut - 1] == '\n'))
			cut--;
		if (cut == 0) { /* one long word: a UTF-8 character less */
			cut = n - 1;
			while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
				cut--;
		}
		n = cut;
		memcpy(s + n, more, sizeof more);
		rc = ussd_fits(s);
	}
	if (rc <= 0) {
		free(s);
		return NULL;
	}
	return s;
}

const char ussd_invite_default[] =
	"Ông/Bà chưa hoàn thành khảo sát. Bấm gọi {code} (miễn phí) để tiếp tục. Xin cảm ơn.";

char *ussd_invite_text(const char *tmpl, const char *service_code)
{
	static const char mark[] = "{code}";
	const size_t ml = sizeof mark - 1, cl = strlen(service_code);
	if (!tmpl)
		tmpl = ussd_invite_default;
	size_t n = strlen(tmpl) + 1;
	for (const char *p = strstr(tmpl, mark); p; p = strstr(p + ml, mark))
		n += cl; /* at most: the mark itself is not copied */
	char *s = malloc(n);
	if (!s)
		return NULL;
	size_t off = 0;
	for (const char *p = tmpl;;) {
		const char *m = strstr(p, mark);
		size_t l = m ? (size_t)(m - p) : strlen(p);
		memcpy(s + off, p, l);
		off += l;
		if (!m)
			break;
		memcpy(s + off, service_code, cl);
		off += cl;
		p = m + ml;
	}
	s[off] = '\0';
	return s;
}
