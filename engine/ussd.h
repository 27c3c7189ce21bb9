/* ussd: the decisions of a USSD session over SMPP (SPEC §9, docs/ussd.md).
 * Pure: no I/O; op values come from the smpp entry's `ussd:` block. */
#ifndef HL_USSD_H
#define HL_USSD_H

#include "survey.h"

/* The ussd_service_op values of one operator's link. */
struct ussd_ops {
	int pssr_indication;  /* the citizen dialled the code (opens a session) */
	int pssr_response;    /* final screen: the session ends */
	int ussr_request;     /* a screen that expects an answer */
	int ussr_confirm;     /* the citizen's answer to a screen */
};

/* What an incoming deliver_sm on a USSD link means. */
enum ussd_event {
	USSD_EV_NONE = 0,  /* no ussd_service_op: an ordinary SMS */
	USSD_EV_DIAL,      /* pssr_indication with the service code: open (pull / resume) */
	USSD_EV_DIAL_OTHER,/* pssr_indication with another text (another code): a final "no survey" screen */
	USSD_EV_ANSWER,    /* ussr_confirm: the answer to the last screen */
	USSD_EV_RELEASED,  /* any other op (a vendor "released", "abort", a PSSR/USSR we do not serve):
	                    * the session is over, nothing is sent */
};

/* Classify: has_op/op from the TLV, text the decoded short message.
 * The service code is compared ignoring spaces. */
enum ussd_event ussd_classify(const struct ussd_ops *ops, int has_op, int op, const char *text,
                              const char *service_code);

/* The screen the citizen gets on dialling: SURVEY_MSG_FIRST when nothing
 * was answered yet (intro + item 1), SURVEY_MSG_ITEM for the item where the
 * survey stands; -1 when the survey is not running (no screen but the
 * "no survey" one). */
int ussd_resume_kind(const struct survey *s);

/* The one screen of a step: the step's messages joined with "\n" (a USSD
 * screen is one submit_sm, never two). NULL when there is none; malloc'd. */
char *ussd_screen(const struct survey_out *o);

/* The op of a screen: pssr_response when it ends the session (the survey
 * finished, or a "no survey" notice), ussr_request otherwise. */
int ussd_screen_op(const struct ussd_ops *ops, int final);

/* 1 while a session whose last screen went out at last_at is alive at now
 * (no answer for timeout_s ends it). */
int ussd_session_alive(int64_t last_at, int64_t now, int timeout_s);

/* A text that is no campaign's (a built-in notice: "no survey", the
 * opt-out confirmation) as one USSD screen: folded to plain Latin (GSM
 * 03.38, like `encoding: unaccented`) and, when still longer than a screen
 * (CAMPAIGN_USSD_GSM characters), cut at the last blank that leaves room
 * for "..." (or mid-word when there is none). Campaign screens are checked
 * at load instead; a screen that does not fit is refused by the SMPP layer
 * and the citizen would get nothing. malloc'd UTF-8, to be sent with
 * TEXT_ENC_UNACCENTED; NULL when out of memory or the text is no UTF-8. */
char *ussd_fit_screen(const char *utf8);

/* The default text of that SMS (a campaign's `ussd: invite:` replaces it). */
extern const char ussd_invite_default[];

/* The SMS inviting a citizen whose session ended unanswered to dial the
 * code: `tmpl` (NULL = ussd_invite_default) with every "{code}" replaced by
 * service_code. malloc'd; NULL when out of memory. */
char *ussd_invite_text(const char *tmpl, const char *service_code);

#endif
