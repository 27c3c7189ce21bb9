/* config: the gateway's YAML configuration (SPEC §4). */
#ifndef HL_CONFIG_H
#define HL_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_SMSC 8
#define CONFIG_MAX_ROUTES 32
#define CONFIG_MAX_TOKENS 32
#define CONFIG_MAX_AGENCIES 32
#define CONFIG_MAX_RETRY 16
#define CONFIG_MAX_SMS_TRIGGERS 256

/* Status value of the `timeout` key of `retry:` (no response in time); not an
 * SMPP status. Equal to ESME_STATUS_TIMEOUT. */
#define CONFIG_RETRY_TIMEOUT 0xFFFFFFFFu
/* Status value of the `default` key of `retry:`. */
#define CONFIG_RETRY_DEFAULT 0xFFFFFFFEu

/* How one error status is retried: `tries` submit_sm in all (1 = never
 * retried, i.e. permanent), the first wait `delay_ms`, doubled per try up to
 * max(delay_ms, 30 s). */
struct config_retry {
	unsigned int status;    /* SMPP command_status, or CONFIG_RETRY_TIMEOUT / _DEFAULT */
	int tries;              /* 1..1000 */
	int delay_ms;           /* 1..86400000 */
};

/* How a message longer than one SMS is sent. */
enum config_long { CONFIG_LONG_UDH = 0, CONFIG_LONG_SAR, CONFIG_LONG_PAYLOAD };

struct config_smsc {
	char *name;
	char *host;
	int port;
	char *system_id;        /* at most 15 characters */
	char *password;         /* at most 8 characters */
	char *system_type;      /* "" allowed */
	int bind_trx;           /* 1 = transceiver, 0 = transmitter+receiver */
	char *source_addr;
	int source_ton, source_npi;   /* default: 5/0 alphanumeric, 3/0 short code... see docs; -1 = derive */
	int window;             /* outstanding requests, default 10 */
	int tps;                /* submit_sm per second, default 50 */
	char *routes[CONFIG_MAX_ROUTES]; /* MSISDN prefixes; none = default route */
	int nroutes;
	int enquire_link_s;     /* default 30 */
	int response_timeout_s; /* default 30 */
	struct config_retry retry[CONFIG_MAX_RETRY]; /* `retry:` as written; see docs/config.md */
	int nretry;
	enum config_long long_messages; /* default CONFIG_LONG_UDH */
	/* `ussd:` (SPEC §9, docs/ussd.md); has_ussd = 0 when the entry carries SMS only. */
	int has_ussd;
	char *ussd_service_code;      /* what a citizen dials, e.g. "*8088#" */
	char *ussd_service_type;      /* service_type of USSD submit_sm, default "USSD" */
	int ussd_op_pssr_indication;  /* default 1 */
	int ussd_op_pssr_response;    /* default 17 */
	int ussd_op_ussr_request;     /* default 2 */
	int ussd_op_ussr_confirm;     /* default 18 */
	int ussd_session_timeout_s;   /* default 180 */
	int retired;            /* never from the file: a reload removed the entry (gw_reload.c); its
	                         * slot stays, routing nothing, so the other entries keep their index */
};

/* An agency number whose SMS starts a survey (whitelist for SMS triggers). */
struct config_sms_trigger {
	char *number;           /* canonical 84... */
	char *agency;
	char *campaign;
};

struct config_token {
	char *name;
	unsigned char sha256[32]; /* of the token (token: hashed at load; token_sha256: given) */
	char *agencies[CONFIG_MAX_AGENCIES]; /* "*" = all */
	int nagencies;
};

struct config {
	char *file;
	struct config_smsc smsc[CONFIG_MAX_SMSC];
	int nsmsc;
	char *redis_url;        /* redis://host:port/db, unix:/path, or "embedded" */
	int lease_s;            /* a gateway's liveness lease on the shared Redis (s) */
	char *sqlite_path;
	char *http_listen;      /* host:port */
	struct config_token tokens[CONFIG_MAX_TOKENS];
	int ntokens;
	char *campaigns_dir;
	char *timezone;         /* default Asia/Ho_Chi_Minh */
	char *hash_key;         /* hex or text; NULL = generated once and kept (see docs) */
	char *log_level;        /* debug | info | warn | error, default info */
	int drain_timeout_s;    /* SIGTERM: the whole drain ends within this (s), default 30 */
	struct config_sms_trigger sms_triggers[CONFIG_MAX_SMS_TRIGGERS];
	int nsms_triggers;
	/* audit: (docs/audit.md) */
	int audit_has_key;                   /* audit.public_key given: numbers are archived sealed */
	unsigned char audit_public_key[32];  /* X25519, from hailong audit keygen */
	int audit_keep_contact_days;         /* sealed contacts are purged after this, default 180 */
	/* the lines of keys whose value is checked only when used (a folder, a
	 * port): 0 when the key is absent and the default applies */
	int campaigns_line, sqlite_line, listen_line;
};

/* Read and validate. On failure returns -EINVAL (or -errno for I/O) and fills
 * err with "file:line: what is wrong" lines. Relative paths in the file are
 * kept as written (relative to the working directory). */
int config_load(const char *path, struct config **out, char *err, size_t errlen);
/* Same from memory; `file` names it in errors. */
int config_parse(const char *file, const char *yaml, size_t len,
                 struct config **out, char *err, size_t errlen);
void config_free(struct config *c);
/* What hailongd needs of the file system before it starts: the campaigns
 * folder can be read, and (storage != 0) the folder of storage.sqlite
 * exists. --check leaves the latter out: on a fresh install the state folder
 * appears only when systemd first starts the unit. Returns 0, or -errno
 * with "file:line: what is wrong" lines in err. */
int config_check_paths(const struct config *c, int storage, char *err, size_t errlen);
/* "file:line" of a key (line 0: "file", the key absent), for an error about
 * its value found after loading. */
void config_where(const struct config *c, int line, char *out, size_t cap);

/* 1 when two smpp entries make the same session: every key but `routes`
 * equal (a SIGHUP re-binds an entry for which this is 0). */
int config_smsc_same_link(const struct config_smsc *a, const struct config_smsc *b);

/* Index of the token whose SHA-256 matches `token` (constant-time compare), or -1. */
int config_token_find(const struct config *c, const char *token);
/* 1 if token i may trigger for `agency`. */
int config_token_allows(const struct config *c, int i, const char *agency);
/* The same for a token itself (a copy taken before a reload may move the
 * tokens: their strings stay allocated until exit). */
int config_token_permits(const struct config_token *t, const char *agency);
/* The sms_triggers entry for a canonical number ("849..."), or NULL. */
const struct config_sms_trigger *config_sms_trigger_find(const struct config *c, const char *number);

#endif
