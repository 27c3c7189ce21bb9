/* smpp_pdu: SMPP 3.4 framing, strict decoding of requests and building of PDUs.
 * The only module that includes libsmpp34; shared by hailongd and hailong-sim.
 * No byte from the network reaches libsmpp34: requests are walked and decoded
 * here by hand with every length checked; libsmpp34 packs what we send. */
#ifndef HL_SMPP_PDU_H
#define HL_SMPP_PDU_H

#include <stddef.h>
#include <stdint.h>

#define SMPP_HEADER_LEN 16
#define SMPP_MAX_PDU 4096     /* framing cap: longer command_length = protocol error */

/* command ids (macros: 0x8000xxxx does not fit an int enumerator in ISO C) */
#define SMPP_GENERIC_NACK           0x80000000u
#define SMPP_BIND_RECEIVER          0x00000001u
#define SMPP_BIND_RECEIVER_RESP     0x80000001u
#define SMPP_BIND_TRANSMITTER       0x00000002u
#define SMPP_BIND_TRANSMITTER_RESP  0x80000002u
#define SMPP_SUBMIT_SM              0x00000004u
#define SMPP_SUBMIT_SM_RESP         0x80000004u
#define SMPP_DELIVER_SM             0x00000005u
#define SMPP_DELIVER_SM_RESP        0x80000005u
#define SMPP_UNBIND                 0x00000006u
#define SMPP_UNBIND_RESP            0x80000006u
#define SMPP_BIND_TRANSCEIVER       0x00000009u
#define SMPP_BIND_TRANSCEIVER_RESP  0x80000009u
#define SMPP_ENQUIRE_LINK           0x00000015u
#define SMPP_ENQUIRE_LINK_RESP      0x80000015u
#define SMPP_DATA_SM                0x00000103u
#define SMPP_DATA_SM_RESP           0x80000103u

/* command_status values (protocol outcomes, not C errors) */
enum {
	SMPP_ESME_ROK = 0x00, SMPP_ESME_RINVMSGLEN = 0x01, SMPP_ESME_RINVCMDLEN = 0x02,
	SMPP_ESME_RINVCMDID = 0x03, SMPP_ESME_RINVBNDSTS = 0x04, SMPP_ESME_RALYBND = 0x05,
	SMPP_ESME_RSYSERR = 0x08, SMPP_ESME_RINVSRCADR = 0x0A, SMPP_ESME_RINVDSTADR = 0x0B,
	SMPP_ESME_RBINDFAIL = 0x0D, SMPP_ESME_RINVPASWD = 0x0E, SMPP_ESME_RINVSYSID = 0x0F,
	SMPP_ESME_RMSGQFUL = 0x14, SMPP_ESME_RINVESMCLASS = 0x43, SMPP_ESME_RTHROTTLED = 0x58,
	SMPP_ESME_RINVTLVLEN = 0xC2, SMPP_ESME_RINVOPTPARAMVAL = 0xC4,
	SMPP_ESME_RX_T_APPN = 0x64, SMPP_ESME_RUNKNOWNERR = 0xFF,
	/* field-specific statuses the decoders also answer with */
	SMPP_ESME_RINVMSGID = 0x0C, SMPP_ESME_RINVSERTYP = 0x15, SMPP_ESME_RINVSYSTYP = 0x53,
	SMPP_ESME_RINVSCHED = 0x61, SMPP_ESME_RINVEXPIRY = 0x62,
};

/* TLV tags we understand */
enum {
	SMPP_TLV_USER_MESSAGE_REFERENCE = 0x0204, SMPP_TLV_SAR_MSG_REF_NUM = 0x020C,
	SMPP_TLV_SAR_TOTAL_SEGMENTS = 0x020E, SMPP_TLV_SAR_SEGMENT_SEQNUM = 0x020F,
	SMPP_TLV_RECEIPTED_MESSAGE_ID = 0x001E, SMPP_TLV_MESSAGE_STATE = 0x0427,
	SMPP_TLV_MESSAGE_PAYLOAD = 0x0424, SMPP_TLV_USSD_SERVICE_OP = 0x0501,
	SMPP_TLV_ITS_SESSION_INFO = 0x1383,
};

struct smpp_hdr {
	uint32_t len;     /* command_length */
	uint32_t id;      /* command_id */
	uint32_t status;  /* command_status */
	uint32_t seq;     /* sequence_number */
};

/* Big-endian 32-bit integers as SMPP puts them on the wire. */
uint32_t smpp_get_u32(const uint8_t *p);
void smpp_put_u32(uint8_t *p, uint32_t v);

/* Framing. Looks at the first `avail` bytes of a stream. Returns 0 when more
 * bytes are needed, the PDU's length (>= 16) when a whole PDU is there (and
 * fills *h), or -EPROTO when command_length is < 16 or > SMPP_MAX_PDU (the
 * stream cannot be resynchronised: answer generic_nack and close). */
int smpp_frame(const uint8_t *buf, size_t avail, struct smpp_hdr *h);

/* A decoded bind_* request. */
struct smpp_bind {
	uint32_t cmd;
	char system_id[16];
	char password[9];
	char system_type[13];
	uint8_t interface_version;   /* any value accepted (0x33, 0x34, 0x50 seen) */
	uint8_t addr_ton, addr_npi;
	char address_range[41];
};

/* A decoded submit_sm, deliver_sm or data_sm: fields and the TLVs we know. */
struct smpp_sm {
	uint32_t cmd;
	char service_type[6];
	uint8_t src_ton, src_npi;
	char src_addr[21];
	uint8_t dst_ton, dst_npi;
	char dst_addr[21];
	uint8_t esm_class, protocol_id, priority_flag;
	char schedule_delivery_time[17], validity_period[17];
	uint8_t registered_delivery, replace_if_present, data_coding, sm_default_msg_id;
	uint8_t short_message[255];  /* raw, UDH included when esm_class & 0x40 */
	size_t sm_length;
	/* TLVs: has_* says it was present (with its standard length) */
	const uint8_t *payload;      /* message_payload, points into the PDU buffer */
	size_t payload_len;
	int has_sar;  uint16_t sar_ref; uint8_t sar_total, sar_seq;
	int has_receipted_id; char receipted_id[66];
	int has_message_state; uint8_t message_state;
	int has_ussd_op; uint8_t ussd_op;
	int has_its_session; uint8_t its_session[2];
	int has_umr; uint16_t umr;
};

/* Decode a request body. `pdu`/`len` is one whole framed PDU. Returns
 * SMPP_ESME_ROK (0) or the SMPP status to answer with (RINVCMDLEN for a
 * truncated body or a C-string without NUL, RINVTLVLEN for a bad TLV length
 * or a known TLV of a non-standard length...). Unknown TLVs, any number of
 * them, are skipped. Never reads past len.
 * A C-octet field whose NUL lies within the PDU but beyond the field's maximum
 * gets the field's own status (RINVSRCADR, RINVDSTADR, RINVSERTYP, RINVSCHED,
 * RINVEXPIRY, RINVSYSID, RINVPASWD, RINVSYSTYP); a wrong command id RINVCMDID. */
uint32_t smpp_decode_bind(const uint8_t *pdu, size_t len, struct smpp_bind *out);
uint32_t smpp_decode_sm(const uint8_t *pdu, size_t len, struct smpp_sm *out);
/* message_id from a submit_sm_resp / data_sm_resp body (may be absent: ""). */
uint32_t smpp_decode_resp_msgid(const uint8_t *pdu, size_t len, char out[66]);
/* system_id from a bind_*_resp body (may be absent). */
uint32_t smpp_decode_bind_resp(const uint8_t *pdu, size_t len, char out[16]);

/* The user data of a short message: if esm_class has UDHI (0x40), parses the
 * UDH for concatenation IEs (8-bit 0x00 and 16-bit 0x08) and returns the text
 * bytes after it. ref/total/seq are 0 when not concatenated. Returns 0 or -EPROTO
 * when the UDH length overruns the message. */
struct smpp_ud {
	const uint8_t *text;
	size_t text_len;
	uint16_t ref;
	uint8_t total, seq;
};
int smpp_user_data(const struct smpp_sm *sm, struct smpp_ud *out);

/* Builders. Each writes one PDU into buf (cap bytes) and returns its length,
 * or -ENOSPC / -EINVAL (a field too long). Bodies are packed with libsmpp34;
 * header-only PDUs and any PDU with a status libsmpp34 does not know (vendor
 * codes 0x400-0x4FF) are written by hand. */
int smpp_build_header(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t status, uint32_t seq);
int smpp_build_bind(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t seq,
                    const char *system_id, const char *password, const char *system_type);
int smpp_build_bind_resp(uint8_t *buf, size_t cap, uint32_t cmd_resp, uint32_t status,
                         uint32_t seq, const char *system_id);
/* submit_sm (cmd = SMPP_SUBMIT_SM) or deliver_sm (cmd = SMPP_DELIVER_SM) from
 * the fields of *sm that matter: service_type, addresses, esm_class,
 * registered_delivery, data_coding, short_message/sm_length, and the TLVs
 * whose has_* is set (message_payload, sar_*, receipted_message_id,
 * message_state, ussd_service_op, its_session_info, user_message_reference). */
int smpp_build_sm(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t seq, const struct smpp_sm *sm);
/* submit_sm_resp / data_sm_resp with message_id; deliver_sm_resp (message_id ""
 * or NULL). A submit_sm_resp with a non-zero status carries no body. Sequence 0
 * (echoing a hostile request) is accepted here and in the other _resp builders. */
int smpp_build_sm_resp(uint8_t *buf, size_t cap, uint32_t cmd_resp, uint32_t status,
                       uint32_t seq, const char *message_id);

/* Names for logs: "ESME_RTHROTTLED", "submit_sm"; unknown values as hex in a static buffer. */
const char *smpp_status_name(uint32_t status);
const char *smpp_cmd_name(uint32_t cmd);
/* smpp_status_name as one word for a log's key=value ("vendor_0x401"): a
 * space would end the value there (its own static buffer). */
const char *smpp_status_word(uint32_t status);
/* The status named `name`: an ESME_* name from SMPP 3.4 (any case), or a
 * number in hex ("0x458") or decimal ("88"), at most 0x7FFFFFFF. 0 or -EINVAL. */
int smpp_status_from_name(const char *name, uint32_t *out);
/* All of s as a number in base 10 or 16 (no prefix): 1 and *out, or 0 on an
 * empty string, a bad digit or overflow. */
int smpp_parse_u64(const char *s, int base, uint64_t *out);
/* 1 for the temporary errors that are retried (RTHROTTLED, RMSGQFUL, RSYSERR, RX_T_APPN). */
int smpp_status_temporary(uint32_t status);

#endif
