/* esme: one SMPP client session (bind, window, enquire_link, reconnect, TPS,
 * submit with segmentation, MO reassembly, receipts) on a libevent loop. */
#ifndef HL_ESME_H
#define HL_ESME_H

#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "smpp_pdu.h"
#include "text.h"

struct esme;

/* One outgoing message. The esme copies what it needs. */
struct esme_msg {
	uint64_t tag;               /* caller's id, returned in on_sent */
	const char *dst;            /* canonical MSISDN "849..." */
	const char *text;           /* UTF-8 */
	enum text_encoding enc;
	int ussd_op;                /* -1 = none, else ussd_service_op TLV value: a USSD
	                             * screen, sent as one submit_sm or refused (-EMSGSIZE) */
	const char *service_type;   /* USSD: service_type of the submit_sm (NULL = "") */
	int has_sess;               /* USSD: its_session_info to echo */
	uint8_t sess[2];
	int has_umr;                /* USSD: user_message_reference to echo */
	uint16_t umr;
	int may_wait;               /* taken while esme_room allows (not only esme_capacity):
	                             * with the window full it waits in the queue and goes
	                             * out the moment a slot frees */
};

/* Delivery receipt states (message_state values of SMPP 3.4). */
enum esme_dlr { ESME_DLR_ENROUTE = 1, ESME_DLR_DELIVERED, ESME_DLR_EXPIRED, ESME_DLR_DELETED,
	ESME_DLR_UNDELIVERABLE, ESME_DLR_ACCEPTED, ESME_DLR_UNKNOWN, ESME_DLR_REJECTED };

struct esme_cbs {
	/* An MO (deliver_sm or data_sm that is not a receipt), reassembled when it
	 * came in parts, decoded to UTF-8 (NFC not applied). The callee answers it
	 * exactly once with esme_answer(e, token, status): later (after storing its
	 * effect) or from inside the callback. `sm` is valid only during the call. */
	void (*on_mo)(void *arg, struct esme *e, uint64_t token, const char *from,
	              const char *text, const struct smpp_sm *sm);
	/* Optional: each part of a concatenated MO (UDH 8/16-bit reference, or
	 * sar_* TLVs: ref has bit 16 set) as it came, not decoded, instead of the
	 * reassembly in memory. The callee keeps the parts where every process
	 * (and a restart) sees them and answers each part exactly once with
	 * esme_answer, like on_mo. seq is 1..total. */
	void (*on_mo_part)(void *arg, struct esme *e, uint64_t token, const struct smpp_sm *sm,
	                   uint32_t ref, int total, int seq, const uint8_t *bytes, size_t n);
	/* A delivery receipt. msgid is the message's id as on_sent gave it (part
	 * 1's) when the receipt names one of the last 2048 ids this esme got in
	 * submit_sm_resp, for any part, in hex or decimal; else the receipt's id
	 * as it came (compare with esme_msgid_eq). A long message gets one
	 * receipt per part. Answered by the esme with the status this returns (0, or
	 * SMPP_ESME_RX_T_APPN when its effect could not be stored: the SMSC sends
	 * the receipt again). */
	uint32_t (*on_receipt)(void *arg, struct esme *e, const char *msgid, enum esme_dlr state);
	/* Optional, used instead of on_receipt when set: the callee stores the
	 * receipt when it can (e.g. with others, in one round trip) and then
	 * answers it with esme_answer(e, token, status). token 0: its connection
	 * is gone, there is nothing to answer (the SMSC sends it again). */
	void (*on_receipt_later)(void *arg, struct esme *e, uint64_t token, const char *msgid, enum esme_dlr state);
	/* The final outcome of esme_submit: status 0 with the message id of the
	 * first part when every part was accepted; else the permanent SMPP status
	 * (or the temporary one after its retries ran out, ESME_STATUS_TIMEOUT
	 * when the last try got no response) with msgid "". Fires once per message;
	 * a dropped connection does not fire it (the parts are sent again). */
	void (*on_sent)(void *arg, struct esme *e, uint64_t tag, uint32_t status, const char *msgid);
	/* Capacity freed (bound, window and TPS allow esme_submit again). */
	void (*on_ready)(void *arg, struct esme *e);
	/* Bound (1) or lost the bind (0). */
	void (*on_state)(void *arg, struct esme *e, int bound);
};

/* Borrows base, cfg and cbs (they outlive the esme). Starts connecting at once.
 * cfg->bind_trx = 0 opens two connections (bind_transmitter + bind_receiver)
 * that the caller sees as one esme; cfg->retry and cfg->long_messages apply. */
struct esme *esme_new(struct event_base *base, const struct config_smsc *cfg,
                      const struct esme_cbs *cbs, void *arg);
/* Unbinds (waiting up to timeout_ms for in-flight responses) and then calls
 * done(arg). Without a connection calls done at once (from the next loop
 * iteration when called inside on_state). Messages without on_sent by then
 * are unconfirmed: send them again after a restart. */
void esme_shutdown(struct esme *e, int timeout_ms, void (*done)(void *arg), void *arg);
/* (esme_shutdown(NULL) calls done at once; esme_capacity and esme_bound of
 * NULL are 0: a gateway whose session could not be made again keeps going.) */
void esme_free(struct esme *e);

int esme_bound(const struct esme *e);
/* How many messages esme_submit would take now (0 when unbound, window full or
 * over TPS). Counted in parts, as if each message had one: min(free window
 * slots, whole TPS tokens) minus the parts still queued (retries included). A
 * long message is taken when this is >= 1; its extra parts then wait in the
 * queue and keep the capacity at 0 until they are sent. */
int esme_capacity(const struct esme *e);
/* How many messages marked may_wait esme_submit would take now: the free
 * window slots plus a queue of one window or ESME_QUEUE_MIN parts, whichever
 * is more, but no more than about a second of sending when that is less (a
 * second's tokens under a TPS limit; window * 1000 / the mean time the SMSC
 * took to answer a submit_sm), and never less than a window: a queued
 * message counts as gone, its "sq" and "l" written, and should not wait
 * long. Minus the parts queued (0 when unbound or shutting down). The
 * queue is held here, in order, and sent as responses free slots (no token
 * bucket consulted: queued parts wait for their tokens), so that a response
 * finds the next message at hand rather than a Redis round trip away. */
#define ESME_QUEUE_MIN 64
int esme_room(const struct esme *e);
/* 1 when the message submitted with tag waits in the session's queue and
 * none of its parts has been written to the SMSC yet (0: written, done or
 * unknown). */
int esme_unsent(const struct esme *e, uint64_t tag);
/* Queue a message: split into parts, submitted within the window and TPS.
 * Returns 0, -EAGAIN (no capacity), or -EINVAL/-EILSEQ/-EMSGSIZE (text). */
int esme_submit(struct esme *e, const struct esme_msg *m);
/* Answer an MO given in on_mo with this status (0, or SMPP_ESME_RX_T_APPN to
 * have the SMSC deliver it again). A token from a lost connection is ignored. */
void esme_answer(struct esme *e, uint64_t token, uint32_t status);
const char *esme_name(const struct esme *e);

/* 1 if two message ids name the same message: equal strings, or equal numbers
 * when one is read in hex and the other in decimal. */
int esme_msgid_eq(const char *a, const char *b);

/* on_sent status when the last try of a part got no response in time (not an
 * SMPP status; outside the vendor range 0x400-0x4FF). */
#define ESME_STATUS_TIMEOUT 0xFFFFFFFFu
/* Tests: one retry policy (tries per part, first delay doubled per try up to
 * 30 s) for every standard temporary error and timeout, replacing the
 * built-in rules; entries of cfg->retry still win (docs/config.md). */
void esme_set_retry(struct esme *e, int max_tries, int backoff_ms);
/* Stop (1) or resume (0) reading a bound session's socket (backpressure). */
void esme_pause_reading(struct esme *e, int pause);

#endif
