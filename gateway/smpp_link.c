/* smpp_link: the one SMPP framing loop over a libevent buffer. */
#include <errno.h>

#include "smpp_link.h"

int smpp_link_read(struct evbuffer *in, uint8_t *pdu, struct smpp_hdr *h, uint32_t *bad_seq)
{
	uint8_t hb[SMPP_HEADER_LEN];
	size_t avail = evbuffer_get_length(in);
	size_t hn = avail < sizeof hb ? avail : sizeof hb;
	*bad_seq = 0;
	if (hn < 4)
		return 0;
	if (evbuffer_copyout(in, hb, hn) != (ev_ssize_t)hn)
		return 0;
	uint32_t len = smpp_get_u32(hb);
	if (len < SMPP_HEADER_LEN || len > SMPP_MAX_PDU) {
		*bad_seq = hn >= SMPP_HEADER_LEN ? smpp_get_u32(hb + 12) : 0;
		return -EPROTO;
	}
	if (avail < len)
		return 0;
	if (evbuffer_remove(in, pdu, len) != (int)len)
		return 0;
	pdu[len] = '\0';
	int r = smpp_frame(pdu, len, h);
	if (r < 0)
		*bad_seq = smpp_get_u32(pdu + 12);
	return r;
}
