/* inbox: what each number received through the simulator (reassembled texts), bounded. */
#ifndef HL_SIM_INBOX_H
#define HL_SIM_INBOX_H

#define INBOX_PER_NUMBER 64     /* texts kept per number (the oldest are dropped) */
#define INBOX_MAX_NUMBERS 200000

struct inbox;

struct inbox *inbox_new(void);
void inbox_free(struct inbox *ib);

/* Copies text. 0, -ENOMEM, or -ENOSPC when INBOX_MAX_NUMBERS numbers are known. */
int inbox_add(struct inbox *ib, const char *msisdn, const char *text);

/* Points out[0..] at up to max texts received by msisdn, oldest first (valid
 * until the next inbox_add). Returns how many. */
int inbox_list(const struct inbox *ib, const char *msisdn, const char **out, int max);

/* Like inbox_list, but only the texts numbered `since` and later (texts are
 * numbered 0, 1, ... per number in the order received); *total is how many
 * that number ever received (the `since` of the next call). */
int inbox_list_since(const struct inbox *ib, const char *msisdn, unsigned long since,
                     const char **out, int max, unsigned long *total);

#endif
