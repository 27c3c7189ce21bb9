/* phone: Vietnamese mobile numbers, validated against the operators' prefixes. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "phone.h"

/* Mobile prefixes (the two digits after the leading 0) in use since the 2018
 * renumbering: Viettel 32-39 86 96-98, VinaPhone 81-85 88 91 94, MobiFone 70
 * 76-79 89 90 93, Vietnamobile 52 56 58 92, Gmobile 59 99, Itel 87, Reddi 55. */
static int phone_prefix_ok(int p)
{
	return (p >= 32 && p <= 39) || p == 52 || p == 55 || p == 56 || p == 58 || p == 59 ||
	       p == 70 || (p >= 76 && p <= 79) || (p >= 81 && p <= 89) ||
	       (p >= 90 && p <= 94) || (p >= 96 && p <= 99);
}

static void phone_err(char *err, size_t errlen, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", msg);
}

int phone_normalize(const char *in, char out[PHONE_MAX], char *err, size_t errlen)
{
	char d[32];
	size_t n = 0;
	int plus = 0;

	if (!in) {
		phone_err(err, errlen, "missing");
		return -EINVAL;
	}
	for (const char *p = in; *p; p++) {
		if (*p >= '0' && *p <= '9') {
			if (n + 1 >= sizeof d) {
				phone_err(err, errlen, "too many digits");
				return -EINVAL;
			}
			d[n++] = *p;
		} else if (*p == '+' && n == 0 && !plus) {
			plus = 1;
		} else if (*p == ' ' || *p == '.' || *p == '-' || *p == '(' || *p == ')') {
			continue;
		} else {
			phone_err(err, errlen, "not a phone number: unexpected character");
			return -EINVAL;
		}
	}
	d[n] = '\0';
	const char *nat; /* the 9 national digits after the trunk 0 / country code */
	if (plus) {
		if (n != 11 || strncmp(d, "84", 2) != 0) {
			phone_err(err, errlen, "not a Vietnamese mobile number (+84 and 9 digits)");
			return -EINVAL;
		}
		nat = d + 2;
	} else if (n == 13 && strncmp(d, "0084", 4) == 0) {
		nat = d + 4;
	} else if (n == 11 && strncmp(d, "84", 2) == 0) {
		nat = d + 2;
	} else if (n == 10 && d[0] == '0') {
		nat = d + 1;
	} else if (n == 9 && d[0] != '0') {
		nat = d;
	} else {
		phone_err(err, errlen, "not a Vietnamese mobile number (expected 0 and 9 digits, or 84 and 9 digits)");
		return -EINVAL;
	}
	int prefix = (nat[0] - '0') * 10 + (nat[1] - '0');
	if (!phone_prefix_ok(prefix)) {
		phone_err(err, errlen, "not a Vietnamese mobile prefix");
		return -EINVAL;
	}
	out[0] = '8';
	out[1] = '4';
	memcpy(out + 2, nat, 9);
	out[11] = '\0';
	return 0;
}

void phone_mask(const char *msisdn, char out[PHONE_MAX])
{
	size_t n = strlen(msisdn);
	if (n >= 9) {  /* 11 bytes and its NUL whatever n is */
		memcpy(out, msisdn, 5);
		memcpy(out + 5, "***", 3);
		memcpy(out + 8, msisdn + n - 3, 4);
	} else if (n >= 5) {  /* a short code or an odd address: less of it */
		memcpy(out, msisdn, 2);
		memcpy(out + 2, "***", 3);
		memcpy(out + 5, msisdn + n - 2, 3);
	} else {
		memcpy(out, "***", 4);
	}
}
