/* smpp_link: SMPP PDUs read off a libevent buffer, one framing loop for the
 * gateway's sessions (esme) and the simulator's (sim/smsc.c). */
#ifndef HL_SMPP_LINK_H
#define HL_SMPP_LINK_H

#include <stdint.h>

#include <event2/buffer.h>

#include "smpp_pdu.h"

/* Takes the next whole PDU out of `in` into pdu (SMPP_MAX_PDU + 1 bytes: a
 * NUL follows the PDU, libsmpp34 trap 10) and fills *h. Returns the PDU's
 * length (>= 16), 0 when more bytes are needed (nothing taken), or -EPROTO
 * when command_length is under 16 or over SMPP_MAX_PDU: the stream cannot be
 * resynchronised (answer generic_nack ESME_RINVCMDLEN with *bad_seq, the
 * header's sequence_number or 0 when it did not come, and close). A bad
 * length is seen as soon as its 4 bytes are in. */
int smpp_link_read(struct evbuffer *in, uint8_t *pdu, struct smpp_hdr *h, uint32_t *bad_seq);

#endif
