/* smpp_pdu: SMPP 3.4 framing, hand-checked decoding, and building with libsmpp34. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <smpp34.h>
#include <smpp34_structs.h>
#include <smpp34_params.h>

#include "smpp_pdu.h"

/* ---- byte helpers ------------------------------------------------------ */

uint32_t smpp_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void smpp_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- framing ----------------------------------------------------------- */

int smpp_frame(const uint8_t *buf, size_t avail, struct smpp_hdr *h)
{
	if (avail < 4)
		return 0;
	uint32_t len = smpp_get_u32(buf);
	if (len < SMPP_HEADER_LEN || len > SMPP_MAX_PDU)
		return -EPROTO;
	if (avail < len)
		return 0;
	h->len = len;
	h->id = smpp_get_u32(buf + 4);
	h->status = smpp_get_u32(buf + 8);
	h->seq = smpp_get_u32(buf + 12);
	return (int)len;
}

/* ---- decoding: a bounded reader over one PDU body ----------------------- */

struct rd {
	const uint8_t *p;  /* the whole PDU (borrowed) */
	size_t len;        /* its length */
	size_t off;        /* next byte to read */
};

/* Checks the header against the buffer: len must be the PDU's command_length. */
static uint32_t rd_start(struct rd *r, const uint8_t *pdu, size_t len)
{
	if (pdu == NULL || len < SMPP_HEADER_LEN || len > SMPP_MAX_PDU || smpp_get_u32(pdu) != len)
		return SMPP_ESME_RINVCMDLEN;
	r->p = pdu;
	r->len = len;
	r->off = SMPP_HEADER_LEN;
	return SMPP_ESME_ROK;
}

static size_t rd_left(const struct rd *r)
{
	return r->len - r->off;
}

static uint32_t rd_u8(struct rd *r, uint8_t *v)
{
	if (rd_left(r) < 1)
		return SMPP_ESME_RINVCMDLEN;
	*v = r->p[r->off++];
	return SMPP_ESME_ROK;
}

/* A C-octet string of at most `max` bytes NUL included, copied into out
 * (max bytes). No NUL before the end of the PDU: RINVCMDLEN (truncated);
 * no NUL within max bytes: `too_long`, the field's own status. */
static uint32_t rd_cstr(struct rd *r, char *out, size_t max, uint32_t too_long)
{
	size_t left = rd_left(r);
	size_t n = left < max ? left : max;
	const uint8_t *nul = memchr(r->p + r->off, 0, n);
	if (nul == NULL)
		return left < max ? SMPP_ESME_RINVCMDLEN : too_long;
	size_t slen = (size_t)(nul - (r->p + r->off));
	memcpy(out, r->p + r->off, slen + 1);
	r->off += slen + 1;
	return SMPP_ESME_ROK;
}

uint32_t smpp_decode_bind(const uint8_t *pdu, size_t len, struct smpp_bind *out)
{
	struct rd r;
	uint32_t st;

	memset(out, 0, sizeof(*out));
	if ((st = rd_start(&r, pdu, len)) != SMPP_ESME_ROK)
		return st;
	out->cmd = smpp_get_u32(pdu + 4);
	if (out->cmd != SMPP_BIND_RECEIVER && out->cmd != SMPP_BIND_TRANSMITTER &&
	    out->cmd != SMPP_BIND_TRANSCEIVER)
		return SMPP_ESME_RINVCMDID;
	if ((st = rd_cstr(&r, out->system_id, sizeof(out->system_id), SMPP_ESME_RINVSYSID)) ||
	    (st = rd_cstr(&r, out->password, sizeof(out->password), SMPP_ESME_RINVPASWD)) ||
	    (st = rd_cstr(&r, out->system_type, sizeof(out->system_type), SMPP_ESME_RINVSYSTYP)) ||
	    (st = rd_u8(&r, &out->interface_version)) || (st = rd_u8(&r, &out->addr_ton)) ||
	    (st = rd_u8(&r, &out->addr_npi)) ||
	    (st = rd_cstr(&r, out->address_range, sizeof(out->address_range), SMPP_ESME_RINVCMDLEN)))
		return st;
	/* bind requests define no TLVs: trailing bytes are ignored */
	return SMPP_ESME_ROK;
}

/* One known TLV: checks its standard length and stores it in *out. */
static uint32_t sm_tlv(struct smpp_sm *out, uint16_t tag, const uint8_t *v, uint16_t l)
{
	switch (tag) {
	case SMPP_TLV_SAR_MSG_REF_NUM:
		if (l != 2)
			return SMPP_ESME_RINVTLVLEN;
		out->sar_ref = get_u16(v);
		out->has_sar |= 1;
		break;
	case SMPP_TLV_SAR_TOTAL_SEGMENTS:
		if (l != 1)
			return SMPP_ESME_RINVTLVLEN;
		out->sar_total = v[0];
		out->has_sar |= 2;
		break;
	case SMPP_TLV_SAR_SEGMENT_SEQNUM:
		if (l != 1)
			return SMPP_ESME_RINVTLVLEN;
		out->sar_seq = v[0];
		out->has_sar |= 4;
		break;
	case SMPP_TLV_MESSAGE_STATE:
		if (l != 1)
			return SMPP_ESME_RINVTLVLEN;
		out->message_state = v[0];
		out->has_message_state = 1;
		break;
	case SMPP_TLV_USSD_SERVICE_OP:
		if (l != 1)
			return SMPP_ESME_RINVTLVLEN;
		out->ussd_op = v[0];
		out->has_ussd_op = 1;
		break;
	case SMPP_TLV_ITS_SESSION_INFO:
		if (l != 2)
			return SMPP_ESME_RINVTLVLEN;
		out->its_session[0] = v[0];
		out->its_session[1] = v[1];
		out->has_its_session = 1;
		break;
	case SMPP_TLV_USER_MESSAGE_REFERENCE:
		if (l != 2)
			return SMPP_ESME_RINVTLVLEN;
		out->umr = get_u16(v);
		out->has_umr = 1;
		break;
	case SMPP_TLV_RECEIPTED_MESSAGE_ID: {
		/* a C-octet string; a missing NUL is tolerated, 65 characters at most */
		const uint8_t *nul = memchr(v, 0, l);
		size_t slen = nul ? (size_t)(nul - v) : l;
		if (slen >= sizeof(out->receipted_id))
			return SMPP_ESME_RINVTLVLEN;
		memcpy(out->receipted_id, v, slen);
		out->receipted_id[slen] = '\0';
		out->has_receipted_id = 1;
		break;
	}
	case SMPP_TLV_MESSAGE_PAYLOAD:
		out->payload = v;
		out->payload_len = l;
		break;
	default:
		break;  /* unknown TLVs are skipped */
	}
	return SMPP_ESME_ROK;
}

/* Walks the TLV area to the end of the PDU: every TLV needs its 4-byte
 * header and its value inside the PDU. Any number of them is fine (some SMSCs
 * attach dozens of vendor TLVs to a citizen's reply): unknown ones are skipped,
 * the framing cap bounds the walk, and libsmpp34 never sees these bytes. */
static uint32_t sm_tlvs(struct rd *r, struct smpp_sm *out)
{
	while (rd_left(r) > 0) {
		if (rd_left(r) < 4) {
			/* 1-3 NUL octets after the body (some SMSCs end short_message
			 * with a NUL it does not count): padding, not a TLV; refusing
			 * would lose the citizen's reply for good */
			while (rd_left(r) > 0 && r->p[r->off] == 0)
				r->off++;
			if (rd_left(r) > 0)
				return SMPP_ESME_RINVTLVLEN;
			break;
		}
		uint16_t tag = get_u16(r->p + r->off);
		uint16_t l = get_u16(r->p + r->off + 2);
		r->off += 4;
		if (l > rd_left(r))
			return SMPP_ESME_RINVTLVLEN;
		uint32_t st = sm_tlv(out, tag, r->p + r->off, l);
		if (st != SMPP_ESME_ROK)
			return st;
		r->off += l;
	}
	/* has_sar only when all three sar_* came */
	out->has_sar = out->has_sar == 7;
	return SMPP_ESME_ROK;
}

uint32_t smpp_decode_sm(const uint8_t *pdu, size_t len, struct smpp_sm *out)
{
	struct rd r;
	uint32_t st;
	uint8_t sm_len;

	memset(out, 0, sizeof(*out));
	if ((st = rd_start(&r, pdu, len)) != SMPP_ESME_ROK)
		return st;
	out->cmd = smpp_get_u32(pdu + 4);
	if (out->cmd != SMPP_SUBMIT_SM && out->cmd != SMPP_DELIVER_SM && out->cmd != SMPP_DATA_SM)
		return SMPP_ESME_RINVCMDID;
	/* data_sm allows 64-character addresses; ours hold 20, longer is refused */
	if ((st = rd_cstr(&r, out->service_type, sizeof(out->service_type), SMPP_ESME_RINVSERTYP)) ||
	    (st = rd_u8(&r, &out->src_ton)) || (st = rd_u8(&r, &out->src_npi)) ||
	    (st = rd_cstr(&r, out->src_addr, sizeof(out->src_addr), SMPP_ESME_RINVSRCADR)) ||
	    (st = rd_u8(&r, &out->dst_ton)) || (st = rd_u8(&r, &out->dst_npi)) ||
	    (st = rd_cstr(&r, out->dst_addr, sizeof(out->dst_addr), SMPP_ESME_RINVDSTADR)) ||
	    (st = rd_u8(&r, &out->esm_class)))
		return st;
	if (out->cmd == SMPP_DATA_SM) {
		if ((st = rd_u8(&r, &out->registered_delivery)) || (st = rd_u8(&r, &out->data_coding)))
			return st;
		return sm_tlvs(&r, out);
	}
	if ((st = rd_u8(&r, &out->protocol_id)) || (st = rd_u8(&r, &out->priority_flag)) ||
	    (st = rd_cstr(&r, out->schedule_delivery_time, sizeof(out->schedule_delivery_time),
	                  SMPP_ESME_RINVSCHED)) ||
	    (st = rd_cstr(&r, out->validity_period, sizeof(out->validity_period),
	                  SMPP_ESME_RINVEXPIRY)) ||
	    (st = rd_u8(&r, &out->registered_delivery)) || (st = rd_u8(&r, &out->replace_if_present)) ||
	    (st = rd_u8(&r, &out->data_coding)) || (st = rd_u8(&r, &out->sm_default_msg_id)) ||
	    (st = rd_u8(&r, &sm_len)))
		return st;
	if (sm_len > rd_left(&r))
		return SMPP_ESME_RINVMSGLEN;
	memcpy(out->short_message, r.p + r.off, sm_len);  /* sm_len <= 255 = sizeof */
	out->sm_length = sm_len;
	r.off += sm_len;
	return sm_tlvs(&r, out);
}

uint32_t smpp_decode_resp_msgid(const uint8_t *pdu, size_t len, char out[66])
{
	struct rd r;
	uint32_t st;

	out[0] = '\0';
	if ((st = rd_start(&r, pdu, len)) != SMPP_ESME_ROK)
		return st;
	if (!(smpp_get_u32(pdu + 4) & 0x80000000u))
		return SMPP_ESME_RINVCMDID;
	if (rd_left(&r) == 0)
		return SMPP_ESME_ROK;  /* no body (error responses) */
	st = rd_cstr(&r, out, 66, SMPP_ESME_RINVMSGID);
	if (st != SMPP_ESME_ROK)
		out[0] = '\0';
	return st;  /* data_sm_resp TLVs after the id are ignored */
}

uint32_t smpp_decode_bind_resp(const uint8_t *pdu, size_t len, char out[16])
{
	struct rd r;
	uint32_t st;

	out[0] = '\0';
	if ((st = rd_start(&r, pdu, len)) != SMPP_ESME_ROK)
		return st;
	uint32_t id = smpp_get_u32(pdu + 4);
	if (id != SMPP_BIND_RECEIVER_RESP && id != SMPP_BIND_TRANSMITTER_RESP &&
	    id != SMPP_BIND_TRANSCEIVER_RESP)
		return SMPP_ESME_RINVCMDID;
	if (rd_left(&r) == 0)
		return SMPP_ESME_ROK;
	st = rd_cstr(&r, out, 16, SMPP_ESME_RINVSYSID);
	if (st != SMPP_ESME_ROK)
		out[0] = '\0';
	return st;  /* sc_interface_version TLV ignored */
}

/* ---- user data ---------------------------------------------------------- */

int smpp_user_data(const struct smpp_sm *sm, struct smpp_ud *out)
{
	const uint8_t *d;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (sm->payload != NULL && sm->sm_length == 0) {
		d = sm->payload;
		n = sm->payload_len;
	} else {
		d = sm->short_message;
		n = sm->sm_length < sizeof(sm->short_message) ? sm->sm_length
		                                               : sizeof(sm->short_message);
	}
	if (!(sm->esm_class & 0x40)) {
		out->text = d;
		out->text_len = n;
		return 0;
	}
	if (n < 1 || (size_t)d[0] + 1 > n)
		return -EPROTO;
	size_t end = (size_t)d[0] + 1;
	for (size_t i = 1; i < end;) {
		if (i + 2 > end)
			return -EPROTO;
		uint8_t iei = d[i], iel = d[i + 1];
		const uint8_t *v = d + i + 2;
		if (i + 2 + iel > end)
			return -EPROTO;
		if (iei == 0x00) {
			if (iel != 3)
				return -EPROTO;
			out->ref = v[0];
			out->total = v[1];
			out->seq = v[2];
		} else if (iei == 0x08) {
			if (iel != 4)
				return -EPROTO;
			out->ref = get_u16(v);
			out->total = v[2];
			out->seq = v[3];
		}
		i += 2 + (size_t)iel;
	}
	/* GSM 03.40: an IE with seq 0 or seq > total is ignored (one whole message) */
	if (out->total == 0 || out->seq == 0 || out->seq > out->total)
		out->ref = out->total = out->seq = 0;
	out->text = d + end;
	out->text_len = n - end;
	return 0;
}

/* ---- builders ------------------------------------------------------------ */

/* The statuses libsmpp34 knows, with their SMPP 3.4 names. */
static const struct {
	uint32_t v;
	const char *name;
} status_names[] = {
	{0x00, "ESME_ROK"}, {0x01, "ESME_RINVMSGLEN"}, {0x02, "ESME_RINVCMDLEN"},
	{0x03, "ESME_RINVCMDID"}, {0x04, "ESME_RINVBNDSTS"}, {0x05, "ESME_RALYBND"},
	{0x06, "ESME_RINVPRTFLG"}, {0x07, "ESME_RINVREGDLVFLG"}, {0x08, "ESME_RSYSERR"},
	{0x0A, "ESME_RINVSRCADR"}, {0x0B, "ESME_RINVDSTADR"}, {0x0C, "ESME_RINVMSGID"},
	{0x0D, "ESME_RBINDFAIL"}, {0x0E, "ESME_RINVPASWD"}, {0x0F, "ESME_RINVSYSID"},
	{0x11, "ESME_RCANCELFAIL"}, {0x13, "ESME_RREPLACEFAIL"}, {0x14, "ESME_RMSGQFUL"},
	{0x15, "ESME_RINVSERTYP"}, {0x33, "ESME_RINVNUMDESTS"}, {0x34, "ESME_RINVDLNAME"},
	{0x40, "ESME_RINVDESTFLAG"}, {0x42, "ESME_RINVSUBREP"}, {0x43, "ESME_RINVESMCLASS"},
	{0x44, "ESME_RCNTSUBDL"}, {0x45, "ESME_RSUBMITFAIL"}, {0x48, "ESME_RINVSRCTON"},
	{0x49, "ESME_RINVSRCNPI"}, {0x50, "ESME_RINVDSTTON"}, {0x51, "ESME_RINVDSTNPI"},
	{0x53, "ESME_RINVSYSTYP"}, {0x54, "ESME_RINVREPFLAG"}, {0x55, "ESME_RINVNUMMSGS"},
	{0x58, "ESME_RTHROTTLED"}, {0x61, "ESME_RINVSCHED"}, {0x62, "ESME_RINVEXPIRY"},
	{0x63, "ESME_RINVDFTMSGID"}, {0x64, "ESME_RX_T_APPN"}, {0x65, "ESME_RX_P_APPN"},
	{0x66, "ESME_RX_R_APPN"}, {0x67, "ESME_RQUERYFAIL"}, {0xC0, "ESME_RINVOPTPARSTREAM"},
	{0xC1, "ESME_ROPTPARNOTALLWD"}, {0xC2, "ESME_RINVPARLEN"}, {0xC3, "ESME_RMISSINGOPTPARAM"},
	{0xC4, "ESME_RINVOPTPARAMVAL"}, {0xFE, "ESME_RDELIVERYFAILURE"}, {0xFF, "ESME_RUNKNOWNERR"},
};

static const char *status_lookup(uint32_t status)
{
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (status_names[i].v == status)
			return status_names[i].name;
	return NULL;
}

/* Hand-written response: header plus an optional C-octet string body. Used for
 * header-only PDUs and where libsmpp34 would refuse the header (a status it
 * does not know, sequence number 0). */
static int hand_pdu(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t status, uint32_t seq,
                    const char *cstr)
{
	size_t body = cstr ? strlen(cstr) + 1 : 0;
	size_t len = SMPP_HEADER_LEN + body;
	if (len > cap)
		return -ENOSPC;
	smpp_put_u32(buf, (uint32_t)len);
	smpp_put_u32(buf + 4, cmd);
	smpp_put_u32(buf + 8, status);
	smpp_put_u32(buf + 12, seq);
	if (body)
		memcpy(buf + SMPP_HEADER_LEN, cstr, body);
	return (int)len;
}

/* Packs a typed libsmpp34 PDU struct into buf. libsmpp34 needs one byte more
 * than the PDU, so it packs into a scratch buffer and the PDU is copied out:
 * callers need exactly the PDU's length. Returns the length, -EINVAL when
 * libsmpp34 refuses a value (TON/NPI, sequence 0...) or -ENOSPC. */
static int pack(void *pdu, uint8_t *buf, size_t cap)
{
	uint8_t tmp[SMPP_MAX_PDU + 1];
	int len = 0;
	if (smpp34_pack2(tmp, (int)sizeof(tmp), &len, pdu) != 0)
		return -EINVAL;
	if (len < SMPP_HEADER_LEN || (size_t)len > cap)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)len);
	return len;
}

static int fits(const char *s, size_t max_chars)
{
	return s == NULL || strnlen(s, max_chars + 1) <= max_chars;
}

/* Copies s (NULL = "") into a field of libsmpp34's struct, already checked to fit. */
static void set_str(uint8_t *dst, size_t dst_size, const char *s)
{
	size_t n = s ? strnlen(s, dst_size - 1) : 0;
	memcpy(dst, s ? s : "", n);
	dst[n] = '\0';
}

int smpp_build_header(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t status, uint32_t seq)
{
	return hand_pdu(buf, cap, cmd, status, seq, NULL);
}

int smpp_build_bind(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t seq,
                    const char *system_id, const char *password, const char *system_type)
{
	/* the three bind structs share one layout (def_frame/bind_*.frame) */
	union {
		bind_transmitter_t tx;
		bind_receiver_t rx;
		bind_transceiver_t trx;
	} u;

	if (cmd != SMPP_BIND_RECEIVER && cmd != SMPP_BIND_TRANSMITTER && cmd != SMPP_BIND_TRANSCEIVER)
		return -EINVAL;
	if (!fits(system_id, 15) || !fits(password, 8) || !fits(system_type, 12) || seq == 0)
		return -EINVAL;
	memset(&u, 0, sizeof(u));
	u.tx.command_id = cmd;
	u.tx.sequence_number = seq;
	set_str(u.tx.system_id, sizeof(u.tx.system_id), system_id);
	set_str(u.tx.password, sizeof(u.tx.password), password);
	set_str(u.tx.system_type, sizeof(u.tx.system_type), system_type);
	u.tx.interface_version = SMPP_VERSION;
	return pack(&u, buf, cap);
}

int smpp_build_bind_resp(uint8_t *buf, size_t cap, uint32_t cmd_resp, uint32_t status,
                         uint32_t seq, const char *system_id)
{
	union {
		bind_transmitter_resp_t tx;
		bind_receiver_resp_t rx;
		bind_transceiver_resp_t trx;
	} u;

	if (cmd_resp != SMPP_BIND_RECEIVER_RESP && cmd_resp != SMPP_BIND_TRANSMITTER_RESP &&
	    cmd_resp != SMPP_BIND_TRANSCEIVER_RESP)
		return -EINVAL;
	if (!fits(system_id, 15))
		return -EINVAL;
	if (status_lookup(status) == NULL || seq == 0)
		return hand_pdu(buf, cap, cmd_resp, status, seq, system_id ? system_id : "");
	memset(&u, 0, sizeof(u));
	u.tx.command_id = cmd_resp;
	u.tx.command_status = status;
	u.tx.sequence_number = seq;
	set_str(u.tx.system_id, sizeof(u.tx.system_id), system_id);
	return pack(&u, buf, cap);
}

int smpp_build_sm_resp(uint8_t *buf, size_t cap, uint32_t cmd_resp, uint32_t status,
                       uint32_t seq, const char *message_id)
{
	int hand = status_lookup(status) == NULL || seq == 0;
	const char *id = message_id ? message_id : "";

	switch (cmd_resp) {
	case SMPP_SUBMIT_SM_RESP: {
		submit_sm_resp_t p;
		if (!fits(id, 64))
			return -EINVAL;
		/* like libsmpp34: the message_id is only sent with status 0 */
		if (hand)
			return hand_pdu(buf, cap, cmd_resp, status, seq, status ? NULL : id);
		memset(&p, 0, sizeof(p));
		p.command_id = cmd_resp;
		p.command_status = status;
		p.sequence_number = seq;
		set_str(p.message_id, sizeof(p.message_id), id);
		return pack(&p, buf, cap);
	}
	case SMPP_DATA_SM_RESP: {
		data_sm_resp_t p;
		if (!fits(id, 64))
			return -EINVAL;
		if (hand)
			return hand_pdu(buf, cap, cmd_resp, status, seq, id);
		memset(&p, 0, sizeof(p));
		p.command_id = cmd_resp;
		p.command_status = status;
		p.sequence_number = seq;
		set_str(p.message_id, sizeof(p.message_id), id);
		return pack(&p, buf, cap);
	}
	case SMPP_DELIVER_SM_RESP: {
		deliver_sm_resp_t p;
		if (id[0] != '\0')
			return -EINVAL;  /* message_id is unused in deliver_sm_resp */
		if (hand)
			return hand_pdu(buf, cap, cmd_resp, status, seq, "");
		memset(&p, 0, sizeof(p));
		p.command_id = cmd_resp;
		p.command_status = status;
		p.sequence_number = seq;
		return pack(&p, buf, cap);
	}
	default:
		return -EINVAL;
	}
}

/* Prepends one TLV onto *list (build_tlv copies it). Integer values go in
 * val08/val16 (val08 shares its byte with octet[0], so the octet-typed TLVs of
 * one PDU type and the U08-typed of another are both served). */
static int add_tlv(tlv_t **list, uint16_t tag, uint16_t len, uint16_t v16, const void *octets)
{
	tlv_t t;
	memset(&t, 0, sizeof(t));
	t.tag = tag;
	t.length = len;
	if (octets != NULL)
		memcpy(t.value.octet, octets, len);
	else if (len == 2)
		t.value.val16 = v16;
	else
		t.value.val08 = (uint8_t)v16;
	return build_tlv(list, &t) == 0 ? 0 : -ENOMEM;
}

/* The TLVs of *sm in wire order; added last to first because build_tlv prepends. */
static int sm_build_tlvs(tlv_t **list, const struct smpp_sm *sm)
{
	int rc = 0;
	if (sm->has_its_session)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_ITS_SESSION_INFO, 2,
		                       (uint16_t)(sm->its_session[0] << 8 | sm->its_session[1]), NULL);
	if (sm->has_ussd_op)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_USSD_SERVICE_OP, 1, sm->ussd_op, NULL);
	if (sm->has_message_state)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_MESSAGE_STATE, 1, sm->message_state, NULL);
	if (sm->has_receipted_id)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_RECEIPTED_MESSAGE_ID,
		                       (uint16_t)(strlen(sm->receipted_id) + 1), 0, sm->receipted_id);
	if (sm->payload != NULL)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_MESSAGE_PAYLOAD, (uint16_t)sm->payload_len, 0,
		                       sm->payload);
	if (sm->has_sar) {
		rc = rc ? rc : add_tlv(list, SMPP_TLV_SAR_SEGMENT_SEQNUM, 1, sm->sar_seq, NULL);
		rc = rc ? rc : add_tlv(list, SMPP_TLV_SAR_TOTAL_SEGMENTS, 1, sm->sar_total, NULL);
		rc = rc ? rc : add_tlv(list, SMPP_TLV_SAR_MSG_REF_NUM, 2, sm->sar_ref, NULL);
	}
	if (sm->has_umr)
		rc = rc ? rc : add_tlv(list, SMPP_TLV_USER_MESSAGE_REFERENCE, 2, sm->umr, NULL);
	return rc;
}

int smpp_build_sm(uint8_t *buf, size_t cap, uint32_t cmd, uint32_t seq, const struct smpp_sm *sm)
{
	/* submit_sm and deliver_sm share their first fields' names but not their
	 * array sizes (schedule/validity), so each is filled on its own. */
	submit_sm_t s;
	deliver_sm_t d;
	tlv_t *tlvs = NULL;
	int rc;

	if (cmd != SMPP_SUBMIT_SM && cmd != SMPP_DELIVER_SM)
		return -EINVAL;
	if (seq == 0 || !fits(sm->service_type, 5) || !fits(sm->src_addr, 20) ||
	    !fits(sm->dst_addr, 20) || sm->sm_length > 253 ||
	    (sm->has_receipted_id && !fits(sm->receipted_id, 64)) ||
	    (sm->payload != NULL && (sm->payload_len > 1024 || sm->sm_length > 0)))
		return -EINVAL;
	rc = sm_build_tlvs(&tlvs, sm);
	if (rc != 0)
		goto out;
	/* submit_sm_t and deliver_sm_t are two types with the same fields:
	 * one filling for both */
#define SM_FILL(x)                                                                   \
	do {                                                                         \
		memset(&(x), 0, sizeof(x));                                          \
		(x).command_id = cmd;                                                \
		(x).sequence_number = seq;                                           \
		set_str((x).service_type, sizeof((x).service_type), sm->service_type); \
		(x).source_addr_ton = sm->src_ton;                                   \
		(x).source_addr_npi = sm->src_npi;                                   \
		set_str((x).source_addr, sizeof((x).source_addr), sm->src_addr);     \
		(x).dest_addr_ton = sm->dst_ton;                                     \
		(x).dest_addr_npi = sm->dst_npi;                                     \
		set_str((x).destination_addr, sizeof((x).destination_addr), sm->dst_addr); \
		(x).esm_class = sm->esm_class;                                       \
		(x).registered_delivery = sm->registered_delivery;                   \
		(x).data_coding = sm->data_coding;                                   \
		(x).sm_length = (uint8_t)sm->sm_length;                              \
		memcpy((x).short_message, sm->short_message, sm->sm_length);         \
		(x).tlv = tlvs;                                                      \
	} while (0)
	if (cmd == SMPP_SUBMIT_SM) {
		SM_FILL(s);
		rc = pack(&s, buf, cap);
	} else {
		SM_FILL(d);
		rc = pack(&d, buf, cap);
	}
#undef SM_FILL
out:
	destroy_tlv(tlvs);
	return rc;
}

/* ---- names ------------------------------------------------------------- */

const char *smpp_status_name(uint32_t status)
{
	static char unknown[24];
	const char *name = status_lookup(status);
	if (name != NULL)
		return name;
	if (status >= 0x400 && status <= 0x4FF)
		snprintf(unknown, sizeof(unknown), "vendor 0x%03X", (unsigned)status);
	else
		snprintf(unknown, sizeof(unknown), "0x%08X", (unsigned)status);
	return unknown;
}

const char *smpp_status_word(uint32_t status)
{
	static char word[24];
	snprintf(word, sizeof(word), "%s", smpp_status_name(status));
	for (char *c = word; *c; c++)
		if (*c == ' ')
			*c = '_';
	return word;
}

const char *smpp_cmd_name(uint32_t cmd)
{
	static const struct {
		uint32_t v;
		const char *name;
	} names[] = {
		{0x80000000u, "generic_nack"},
		{0x00000001u, "bind_receiver"}, {0x80000001u, "bind_receiver_resp"},
		{0x00000002u, "bind_transmitter"}, {0x80000002u, "bind_transmitter_resp"},
		{0x00000003u, "query_sm"}, {0x80000003u, "query_sm_resp"},
		{0x00000004u, "submit_sm"}, {0x80000004u, "submit_sm_resp"},
		{0x00000005u, "deliver_sm"}, {0x80000005u, "deliver_sm_resp"},
		{0x00000006u, "unbind"}, {0x80000006u, "unbind_resp"},
		{0x00000007u, "replace_sm"}, {0x80000007u, "replace_sm_resp"},
		{0x00000008u, "cancel_sm"}, {0x80000008u, "cancel_sm_resp"},
		{0x00000009u, "bind_transceiver"}, {0x80000009u, "bind_transceiver_resp"},
		{0x0000000Bu, "outbind"},
		{0x00000015u, "enquire_link"}, {0x80000015u, "enquire_link_resp"},
		{0x00000021u, "submit_multi"}, {0x80000021u, "submit_multi_resp"},
		{0x00000102u, "alert_notification"},
		{0x00000103u, "data_sm"}, {0x80000103u, "data_sm_resp"},
	};
	static char unknown[16];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == cmd)
			return names[i].name;
	snprintf(unknown, sizeof(unknown), "0x%08X", (unsigned)cmd);
	return unknown;
}

int smpp_status_from_name(const char *name, uint32_t *out)
{
	uint64_t v = 0;
	int base = 10;
	const char *s = name;

	if (name == NULL || *name == '\0')
		return -EINVAL;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcasecmp(status_names[i].name, name) == 0) {
			*out = status_names[i].v;
			return 0;
		}
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!smpp_parse_u64(s, base, &v) || v > 0x7FFFFFFFu)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int smpp_parse_u64(const char *s, int base, uint64_t *out)
{
	uint64_t v = 0;
	if (!*s)
		return 0;
	for (; *s; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return 0;
		if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
			return 0;
		v = v * (uint64_t)base + (uint64_t)d;
	}
	*out = v;
	return 1;
}

int smpp_status_temporary(uint32_t status)
{
	return status == SMPP_ESME_RTHROTTLED || status == SMPP_ESME_RMSGQFUL ||
	       status == SMPP_ESME_RSYSERR || status == SMPP_ESME_RX_T_APPN;
}
