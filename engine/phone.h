/* phone: Vietnamese mobile number validation, canonical form and masking. */
#ifndef HL_PHONE_H
#define HL_PHONE_H

#include <stddef.h>

#define PHONE_MAX 16 /* "84" + 9 digits + NUL fits with room */

/* Validate and canonicalise a Vietnamese mobile number: accepts 0912345678,
 * 84912345678, +84912345678, 0084..., with spaces, dots and dashes ignored.
 * Writes "84912345678" to out. Returns 0, or -EINVAL with a reason in err. */
int phone_normalize(const char *in, char out[PHONE_MAX], char *err, size_t errlen);

/* "84912345678" -> "84912***678" for logs; any address (an SMPP one may be
 * 20 characters): 9 or more keep 5 + 3, 5 to 8 keep 2 + 2 ("80***88"),
 * shorter ones are "***". */
void phone_mask(const char *msisdn, char out[PHONE_MAX]);

#endif
