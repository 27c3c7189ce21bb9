/* seal: the inspecting office's key pair and the phone numbers sealed to it (libsodium sealed boxes). */
#ifndef HL_SEAL_H
#define HL_SEAL_H

#include <stddef.h>

#define SEAL_KEY_BYTES 32   /* X25519 public and secret keys */
#define SEAL_B64_KEY 45     /* base64 of a key (original variant, padded) with its NUL */

/* Make a key pair: the secret key (and its public key) go to a new file
 * `path`, mode 0600, never overwriting one; the public key in base64 to
 * pk_b64. Returns 0, -EEXIST, or a negative errno with err filled. */
int seal_keygen(const char *path, char pk_b64[SEAL_B64_KEY], char *err, size_t errlen);

/* Decode a base64 public key (audit.public_key). Returns 0 or -EINVAL. */
int seal_parse_public(const char *b64, unsigned char pk[SEAL_KEY_BYTES]);

/* Read a secret key file written by seal_keygen. It must not be readable by
 * group or others (like ssh). Returns 0 or a negative errno with err filled. */
int seal_load_secret(const char *path, unsigned char pk[SEAL_KEY_BYTES], unsigned char sk[SEAL_KEY_BYTES],
                     char *err, size_t errlen);

/* The number sealed to pk, in base64 (malloc'd), or NULL (out of memory). */
char *seal_contact(const unsigned char pk[SEAL_KEY_BYTES], const char *msisdn);

/* Open one sealed contact into out. Returns 0, -EINVAL (not base64, or too
 * short to be a sealed box) or -EACCES (this key does not open it: another
 * key, or the box was changed). */
int seal_open(const unsigned char pk[SEAL_KEY_BYTES], const unsigned char sk[SEAL_KEY_BYTES], const char *b64,
              char *out, size_t cap);

/* Add "contact": the sealed number, to an archive record (JSON text, as
 * record_archive_json writes it). *json is replaced. Returns 0 or -ENOMEM
 * / -EINVAL (not a JSON object); *json is unchanged on error. */
int seal_add_to_record(char **json, const unsigned char pk[SEAL_KEY_BYTES], const char *msisdn);

#endif
