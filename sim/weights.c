/* weights: "key:weight,key:weight" lists, parsed once for every simulator option that takes one. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "weights.h"

int weights_parse(const char *spec, struct weights_item *out, int max)
{
	int n = 0;
	double sum = 0;
	const char *p = spec;
	if (!p || !*p)
		return -EINVAL;
	for (;;) {
		size_t k = strcspn(p, ":,");
		if (p[k] != ':' || k == 0 || k >= WEIGHTS_KEY_MAX || n == max)
			return -EINVAL;
		char *end;
		errno = 0;
		double w = strtod(p + k + 1, &end);
		if (end == p + k + 1 || errno || !isfinite(w) || !(w >= 0) || w > 1e9)
			return -EINVAL;
		memcpy(out[n].key, p, k);
		out[n].key[k] = '\0';
		out[n].weight = w;
		n++;
		sum += w;
		p = end;
		if (*p == '\0')
			break;
		if (*p != ',')
			return -EINVAL;
		p++;
	}
	return sum > 0 ? n : -EINVAL;
}
