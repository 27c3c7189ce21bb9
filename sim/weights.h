/* weights: "key:weight,key:weight" lists, the simulator's answer and receipt distributions. */
#ifndef HL_SIM_WEIGHTS_H
#define HL_SIM_WEIGHTS_H

#define WEIGHTS_KEY_MAX 16 /* a key's bytes, NUL included */

struct weights_item {
	char key[WEIGHTS_KEY_MAX];  /* what is weighted, as written ("5", "DELIVRD") */
	double weight;              /* finite, 0 <= weight <= 1e9 */
};

/* Parses spec ("5:40,4:35" or "DELIVRD:90,UNDELIV:5") into at most max items
 * in order. Every key is non-empty and shorter than WEIGHTS_KEY_MAX, every
 * weight a number in [0, 1e9], and not all of them 0; no empty item, no
 * trailing comma. Keys are not checked for meaning or uniqueness: the caller
 * does. Returns the number of items, or -EINVAL. */
int weights_parse(const char *spec, struct weights_item *out, int max);

#endif
