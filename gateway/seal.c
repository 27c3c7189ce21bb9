/* seal: the inspecting office's key pair and the phone numbers sealed to it (docs/audit.md). */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#define SEAL_VARIANT sodium_base64_VARIANT_ORIGINAL
#define SEAL_MAX_NUMBER 32  /* a canonical number is at most 15 digits */

static void seal_seterr(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void seal_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int seal_b64_key(const char *b64, unsigned char key[SEAL_KEY_BYTES])
{
	size_t len = 0;
	const char *end = NULL;

	if (!b64 || sodium_base642bin(key, SEAL_KEY_BYTES, b64, strlen(b64), NULL, &len, &end, SEAL_VARIANT) != 0 ||
	    len != SEAL_KEY_BYTES || *end != '\0')
		return -EINVAL;
	return 0;
}

int seal_parse_public(const char *b64, unsigned char pk[SEAL_KEY_BYTES])
{
	if (sodium_init() < 0)
		return -EIO;
	return seal_b64_key(b64, pk);
}

int seal_keygen(const char *path, char pk_b64[SEAL_B64_KEY], char *err, size_t errlen)
{
	unsigned char pk[SEAL_KEY_BYTES], sk[SEAL_KEY_BYTES];
	char sk_b64[SEAL_B64_KEY];
	int fd, rc = 0;

	if (sodium_init() < 0) {
		seal_seterr(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0) {
		rc = -errno;
		seal_seterr(err, errlen, "%s: %s%s", path, strerror(errno),
		            rc == -EEXIST ? " (a key file is never overwritten)" : "");
		return rc;
	}
	crypto_box_keypair(pk, sk);
	sodium_bin2base64(pk_b64, SEAL_B64_KEY, pk, sizeof pk, SEAL_VARIANT);
	sodium_bin2base64(sk_b64, sizeof sk_b64, sk, sizeof sk, SEAL_VARIANT);
	FILE *f = fdopen(fd, "w");
	if (!f) {
		rc = -errno;
		close(fd);
		goto fail;
	}
	fprintf(f, "# hailong audit secret key (X25519). Keep it offline: it opens the sealed phone numbers.\n"
	           "public_key: %s\nsecret_key: %s\n", pk_b64, sk_b64);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = -errno;
fail:
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(sk_b64, sizeof sk_b64);
	if (rc < 0) {
		seal_seterr(err, errlen, "%s: %s", path, strerror(-rc));
		unlink(path);
	}
	return rc;
}

int seal_load_secret(const char *path, unsigned char pk[SEAL_KEY_BYTES], unsigned char sk[SEAL_KEY_BYTES],
                     char *err, size_t errlen)
{
	struct stat st;
	char line[256];
	int have_pk = 0, have_sk = 0, lineno = 0;
	unsigned char derived[SEAL_KEY_BYTES];

	if (sodium_init() < 0) {
		seal_seterr(err, errlen, "libsodium failed to initialise");
		return -EIO;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		int e = errno;
		seal_seterr(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		seal_seterr(err, errlen, "%s: permissions %04o are too open: the secret key must be readable by its owner only (chmod 600)",
		            path, (unsigned)(st.st_mode & 07777));
		fclose(f);
		return -EPERM;
	}
	while (fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "public_key: ", 12) == 0 && seal_b64_key(line + 12, pk) == 0) {
			have_pk = 1;
		} else if (strncmp(line, "secret_key: ", 12) == 0 && seal_b64_key(line + 12, sk) == 0) {
			have_sk = 1;
		} else {
			seal_seterr(err, errlen, "%s:%d: not 'public_key: BASE64' or 'secret_key: BASE64'", path, lineno);
			sodium_memzero(line, sizeof line);
			fclose(f);
			return -EINVAL;
		}
	}
	sodium_memzero(line, sizeof line);
	fclose(f);
	if (!have_sk) {
		seal_seterr(err, errlen, "%s: no secret_key line (is this the file from hailong audit keygen?)", path);
		return -EINVAL;
	}
	crypto_scalarmult_base(derived, sk);
	if (have_pk && sodium_memcmp(derived, pk, sizeof derived) != 0) {
		seal_seterr(err, errlen, "%s: public_key does not belong to secret_key", path);
		return -EINVAL;
	}
	memcpy(pk, derived, sizeof derived);
	return 0;
}

char *seal_contact(const unsigned char pk[SEAL_KEY_BYTES], const char *msisdn)
{
	size_t n = strlen(msisdn), clen = n + crypto_box_SEALBYTES;
	unsigned char c[SEAL_MAX_NUMBER + crypto_box_SEALBYTES];

	if (n > SEAL_MAX_NUMBER || crypto_box_seal(c, (const unsigned char *)msisdn, n, pk) != 0)
		return NULL;
	size_t blen = sodium_base64_ENCODED_LEN(clen, SEAL_VARIANT);
	char *b64 = malloc(blen);
	if (b64)
		sodium_bin2base64(b64, blen, c, clen, SEAL_VARIANT);
	return b64;
}

int seal_open(const unsigned char pk[SEAL_KEY_BYTES], const unsigned char sk[SEAL_KEY_BYTES], const char *b64,
              char *out, size_t cap)
{
	unsigned char c[SEAL_MAX_NUMBER + crypto_box_SEALBYTES];
	size_t clen = 0;
	const char *end = NULL;

	if (!b64 || sodium_base642bin(c, sizeof c, b64, strlen(b64), NULL, &clen, &end, SEAL_VARIANT) != 0 ||
	    *end != '\0' || clen <= crypto_box_SEALBYTES)
		return -EINVAL;
	size_t n = clen - crypto_box_SEALBYTES;
	if (n + 1 > cap)
		return -EINVAL;
	if (crypto_box_seal_open((unsigned char *)out, c, clen, pk, sk) != 0)
		return -EACCES;
	out[n] = '\0';
	return 0;
}

int seal_add_to_record(char **json, const unsigned char pk[SEAL_KEY_BYTES], const char *msisdn)
{
	json_t *o = json_loads(*json, 0, NULL);
	char *sealed = NULL, *txt = NULL;
	int rc = -EINVAL;

	if (!json_is_object(o))
		goto done;
	rc = -ENOMEM;
	if (!(sealed = seal_contact(pk, msisdn)) || json_object_set_new(o, "contact", json_string(sealed)) != 0 ||
	    !(txt = json_dumps(o, JSON_COMPACT)))
		goto done;
	free(*json);
	*json = txt;
	rc = 0;
done:
	free(sealed);
	json_decref(o);
	return rc;
}
