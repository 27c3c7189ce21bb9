/* fuzz_smpp: arbitrary bytes through the SMPP framing and the strict decoders (libFuzzer). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smpp_pdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* as the stream would deliver it: frame after frame */
	size_t off = 0;
	while (off < size) {
		struct smpp_hdr h;
		int n = smpp_frame(data + off, size - off, &h);
		if (n <= 0)
			break;
		const uint8_t *pdu = data + off;
		struct smpp_sm sm;
		struct smpp_bind b;
		char id[66];
		if (smpp_decode_sm(pdu, (size_t)n, &sm) == 0) {
			struct smpp_ud ud;
			(void)smpp_user_data(&sm, &ud);
		}
		(void)smpp_decode_bind(pdu, (size_t)n, &b);
		(void)smpp_decode_resp_msgid(pdu, (size_t)n, id);
		(void)smpp_decode_bind_resp(pdu, (size_t)n, id);
		(void)smpp_status_name(h.status);
		(void)smpp_cmd_name(h.id);
		off += (size_t)n;
	}
	return 0;
}
