/* store_verbs: the typed verbs of store.h. Each reads the hiredis reply of
 * one command or script into numbers, strings and lists here, so that no
 * caller has to know hiredis. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* The errno of a failed command, from the err the connection filled: an
 * error reply (refused, or a script stopped by an error), memory, or else
 * I/O (unreachable, or the reply lost: it may have run). */
static int store_err_rc(const char *err)
{
	if (err && strncmp(err, STORE_ERR_REPLY, strlen(STORE_ERR_REPLY)) == 0)
		return -EPROTO;
	if (err && strstr(err, "out of memory"))
		return -ENOMEM;
	return -EIO;
}

static int store_shape(char *err, size_t errlen, const char *want, const redisReply *r)
{
	static const char *const names[] = {"?", "string", "array", "integer", "nil", "status", "error"};
	int t = r->type >= 1 && r->type <= 6 ? r->type : 0;
	if (err && errlen)
		snprintf(err, errlen, "redis: unexpected reply (%s, not %s)", names[t], want);
	return -EBADMSG;
}

void store_list_clear(struct store_list *l)
{
	if (!l)
		return;
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

const struct store_item *store_list_field(const struct store_list *l, const char *name)
{
	for (size_t i = 0; l && i + 1 < l->n; i += 2)
		if (l->e[i].kind == STORE_STR && strcmp(l->e[i].s, name) == 0)
			return l->e[i + 1].kind == STORE_STR ? &l->e[i + 1] : NULL;
	return NULL;
}

/* What an array reply needs, nested arrays included: items, list headers,
 * text bytes. */
struct store_sizes {
	size_t items, lists, text;
};

static void store_list_size(redisReply *const *el, size_t n, struct store_sizes *z)
{
	z->items += n;
	for (size_t i = 0; i < n; i++) {
		const redisReply *x = el[i];
		if (x->type == REDIS_REPLY_STRING || x->type == REDIS_REPLY_STATUS)
			z->text += x->len + 1;
		else if (x->type == REDIS_REPLY_ARRAY) {
			z->lists++;
			store_list_size(x->element, x->elements, z);
		}
	}
}

/* the list headers follow the items in one block */
_Static_assert(sizeof(struct store_item) % _Alignof(struct store_list) == 0, "store_list after store_items");

/* Where the next item, list header and text go in the block. */
struct store_cursor {
	struct store_item *item;
	struct store_list *list;
	char *text;
};

static void store_list_fill(redisReply *const *el, size_t n, struct store_item *e, struct store_cursor *c)
{
	for (size_t i = 0; i < n; i++) {
		const redisReply *x = el[i];
		memset(&e[i], 0, sizeof e[i]);
		switch (x->type) {
		case REDIS_REPLY_INTEGER:
			e[i].kind = STORE_INT;
			e[i].i = x->integer;
			break;
		case REDIS_REPLY_STRING:
		case REDIS_REPLY_STATUS:
			e[i].kind = STORE_STR;
			memcpy(c->text, x->str, x->len);
			c->text[x->len] = '\0';
			e[i].s = c->text;
			e[i].len = x->len;
			c->text += x->len + 1;
			break;
		case REDIS_REPLY_ARRAY: {
			struct store_list *l = c->list++;
			l->n = x->elements;
			l->e = x->elements ? c->item : NULL;
			c->item += x->elements;
			store_list_fill(x->element, x->elements, l->e, c);
			e[i].kind = STORE_NESTED;
			e[i].sub = l;
			break;
		}
		default:
			e[i].kind = STORE_NIL;
			break;
		}
	}
}

/* Replies el[0, n) as the items of *out, in one allocation: every item
 * first (the top list's at its start, so that freeing out->e frees all),
 * then the nested lists' headers, then the texts. */
static int store_items_from(redisReply *const *el, size_t n, struct store_list *out, char *err, size_t errlen)
{
	out->n = 0;
	out->e = NULL;
	if (n == 0)
		return 0;
	struct store_sizes z = {0, 0, 0};
	store_list_size(el, n, &z);
	char *block = malloc(z.items * sizeof(struct store_item) + z.lists * sizeof(struct store_list) + z.text);
	if (!block) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	struct store_cursor c;
	c.item = (struct store_item *)(void *)block;
	c.list = (struct store_list *)(void *)(block + z.items * sizeof(struct store_item));
	c.text = block + z.items * sizeof(struct store_item) + z.lists * sizeof(struct store_list);
	struct store_item *top = c.item;
	c.item += n;
	store_list_fill(el, n, top, &c);
	out->n = n;
	out->e = top;
	return 0;
}

/* An array reply into *out. */
static int store_list_from(const redisReply *r, struct store_list *out, char *err, size_t errlen)
{
	out->n = 0;
	out->e = NULL;
	if (r->type != REDIS_REPLY_ARRAY)
		return store_shape(err, errlen, "array", r);
	return store_items_from(r->element, r->elements, out, err, errlen);
}

/* Any reply into *out as its one item (an array: NESTED, in sub). */
static int store_any_from(const redisReply *r, struct store_list *out, char *err, size_t errlen)
{
	redisReply *const one[] = {(redisReply *)(uintptr_t)r}; /* read only */
	return store_items_from(one, 1, out, err, errlen);
}

static int store_int_from(const redisReply *r, long long *out, char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_INTEGER)
		return store_shape(err, errlen, "integer", r);
	*out = r->integer;
	return 0;
}

/* 1 and a copy, or 0 for nil. */
static int store_str_from(const redisReply *r, char **out, char *err, size_t errlen)
{
	*out = NULL;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS)
		return store_shape(err, errlen, "string", r);
	if (!(*out = malloc(r->len + 1))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(*out, r->str, r->len);
	(*out)[r->len] = '\0';
	return 1;
}

static int store_trigger_from(const redisReply *r, int *is_new, char *id, size_t cap, char *err, size_t errlen)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING)
		return store_shape(err, errlen, "{flag, id}", r);
	*is_new = r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 1;
	snprintf(id, cap, "%s", r->element[1]->str);
	return 0;
}

void store_active_clear(struct store_active *a)
{
	if (!a)
		return;
	free(a->id);
	store_list_clear(&a->fields);
	memset(a, 0, sizeof *a);
}

static int store_active_from(const redisReply *r, struct store_active *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (r->type == REDIS_REPLY_INTEGER) {
		out->ended_at = r->integer;
		return 0;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING)
		return store_shape(err, errlen, "{id, hash} or an integer", r);
	int rc = store_str_from(r->element[0], &out->id, err, errlen);
	if (rc < 0)
		return rc;
	rc = store_list_from(r->element[1], &out->fields, err, errlen);
	if (rc < 0) {
		store_active_clear(out);
		return rc;
	}
	out->running = 1;
	return 0;
}

/* ---- synchronous ---- */

static redisReply *store_vcmd(struct store *s, char *err, size_t errlen, const char *fmt, va_list ap)
{
	char *cmd = NULL;
	int len = redisvFormatCommand(&cmd, fmt, ap);
	if (len < 0) {
		snprintf(err, errlen, "redis: out of memory or a bad format");
		return NULL;
	}
	redisReply *r = store_send(s, cmd, (size_t)len, err, errlen);
	redisFreeCommand(cmd);
	return r;
}

int store_exec(struct store *s, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = store_vcmd(s, err, errlen, fmt, ap);
	va_end(ap);
	if (!r)
		return store_err_rc(err);
	freeReplyObject(r);
	return 0;
}

int store_execv(struct store *s, int argc, const char **argv, char *err, size_t errlen)
{
	redisReply *r = store_cmdargv(s, err, errlen, argc, argv, NULL);
	if (!r)
		return store_err_rc(err);
	freeReplyObject(r);
	return 0;
}

int store_int(struct store *s, long long *out, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = store_vcmd(s, err, errlen, fmt, ap);
	va_end(ap);
	if (!r)
		return store_err_rc(err);
	int rc = store_int_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_intv(struct store *s, long long *out, int argc, const char **argv, char *err, size_t errlen)
{
	redisReply *r = store_cmdargv(s, err, errlen, argc, argv, NULL);
	if (!r)
		return store_err_rc(err);
	int rc = store_int_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_str(struct store *s, char **out, char *err, size_t errlen, const char *fmt, ...)
{
	*out = NULL;
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = store_vcmd(s, err, errlen, fmt, ap);
	va_end(ap);
	if (!r)
		return store_err_rc(err);
	int rc = store_str_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_list(struct store *s, struct store_list *out, char *err, size_t errlen, const char *fmt, ...)
{
	out->n = 0;
	out->e = NULL;
	va_list ap;
	va_start(ap, fmt);
	redisReply *r = store_vcmd(s, err, errlen, fmt, ap);
	va_end(ap);
	if (!r)
		return store_err_rc(err);
	int rc = store_list_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_run(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
              const char **args, char *err, size_t errlen)
{
	redisReply *r = store_script(s, which, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	freeReplyObject(r);
	return 0;
}

int store_run_int(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, long long *out, char *err, size_t errlen)
{
	redisReply *r = store_script(s, which, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_int_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_run_str(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, char **out, char *err, size_t errlen)
{
	*out = NULL;
	redisReply *r = store_script(s, which, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_str_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_run_list(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                   const char **args, struct store_list *out, char *err, size_t errlen)
{
	out->n = 0;
	out->e = NULL;
	redisReply *r = store_script(s, which, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_list_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_run_any(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                  const char **args, struct store_list *out, char *err, size_t errlen)
{
	out->n = 0;
	out->e = NULL;
	redisReply *r = store_script(s, which, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_any_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_trigger(struct store *s, int nkeys, const char **keys, int nargs, const char **args, int *is_new,
                  char *id, size_t cap, char *err, size_t errlen)
{
	redisReply *r = store_script(s, STORE_TRIGGER, nkeys, keys, nargs, args, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_trigger_from(r, is_new, id, cap, err, errlen);
	freeReplyObject(r);
	return rc;
}

int store_active(struct store *s, const char *k_active, const char *k_last, struct store_active *out, char *err,
                 size_t errlen)
{
	const char *keys[] = {k_active, k_last};
	memset(out, 0, sizeof *out);
	redisReply *r = store_script(s, STORE_ACTIVE, 2, keys, 0, NULL, err, errlen);
	if (!r)
		return store_err_rc(err);
	int rc = store_active_from(r, out, err, errlen);
	freeReplyObject(r);
	return rc;
}

/* ---- asynchronous: one job per command, holding the typed callback ---- */

enum store_job_kind { STORE_JOB_INT, STORE_JOB_LIST, STORE_JOB_ANY, STORE_JOB_TRIGGER, STORE_JOB_ACTIVE };

struct store_job {
	enum store_job_kind kind;
	union {
		store_int_cb i;
		store_list_cb l;
		store_trigger_cb t;
		store_active_cb a;
	} cb;
	void *arg;
};

static void store_job_cb(void *arg, const redisReply *r, const char *why)
{
	struct store_job *j = arg;
	char err[256] = "";
	int rc = 0;
	if (!r) {
		snprintf(err, sizeof err, "%s", why ? why : "redis reply lost");
		rc = store_err_rc(err);
	}
	switch (j->kind) {
	case STORE_JOB_INT: {
		long long v = 0;
		if (r)
			rc = store_int_from(r, &v, err, sizeof err);
		j->cb.i(j->arg, rc, v, rc < 0 ? err : NULL);
		break;
	}
	case STORE_JOB_LIST:
	case STORE_JOB_ANY: {
		struct store_list l = {0, NULL};
		if (r)
			rc = j->kind == STORE_JOB_ANY ? store_any_from(r, &l, err, sizeof err)
			                              : store_list_from(r, &l, err, sizeof err);
		j->cb.l(j->arg, rc, rc < 0 ? NULL : &l, rc < 0 ? err : NULL);
		store_list_clear(&l);
		break;
	}
	case STORE_JOB_TRIGGER: {
		int is_new = 0;
		char id[64] = "";
		if (r)
			rc = store_trigger_from(r, &is_new, id, sizeof id, err, sizeof err);
		j->cb.t(j->arg, rc, is_new, rc < 0 ? NULL : id, rc < 0 ? err : NULL);
		break;
	}
	case STORE_JOB_ACTIVE: {
		struct store_active a;
		memset(&a, 0, sizeof a);
		if (r)
			rc = store_active_from(r, &a, err, sizeof err);
		j->cb.a(j->arg, rc, rc < 0 ? NULL : &a, rc < 0 ? err : NULL);
		store_active_clear(&a);
		break;
	}
	}
	free(j);
}

static struct store_job *store_job_new(enum store_job_kind kind, void *arg)
{
	struct store_job *j = calloc(1, sizeof *j);
	if (j) {
		j->kind = kind;
		j->arg = arg;
	}
	return j;
}

/* Queues j's script or command (argc/argv when which < 0); j is freed when
 * that fails, and then its callback is not called. */
static int store_job_send(struct store *s, struct store_job *j, int which, int nkeys, const char **keys, int nargs,
                          const char **args)
{
	if (!j)
		return -ENOMEM;
	int rc = which >= 0 ? store_async_script(s, (enum store_script)which, nkeys, keys, nargs, args, store_job_cb, j)
	                    : store_async_argv(s, nargs, args, store_job_cb, j);
	if (rc < 0)
		free(j);
	return rc < 0 ? rc : 0;
}

int store_async_run_int(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                        const char **args, store_int_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_INT, arg);
	if (j)
		j->cb.i = cb;
	return store_job_send(s, j, (int)which, nkeys, keys, nargs, args);
}

int store_async_run_list(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                         const char **args, store_list_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_LIST, arg);
	if (j)
		j->cb.l = cb;
	return store_job_send(s, j, (int)which, nkeys, keys, nargs, args);
}

int store_async_run_any(struct store *s, enum store_script which, int nkeys, const char **keys, int nargs,
                        const char **args, store_list_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_ANY, arg);
	if (j)
		j->cb.l = cb;
	return store_job_send(s, j, (int)which, nkeys, keys, nargs, args);
}

int store_async_listv(struct store *s, int argc, const char **argv, store_list_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_LIST, arg);
	if (j)
		j->cb.l = cb;
	return store_job_send(s, j, -1, 0, NULL, argc, argv);
}

int store_async_anyv(struct store *s, int argc, const char **argv, store_list_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_ANY, arg);
	if (j)
		j->cb.l = cb;
	return store_job_send(s, j, -1, 0, NULL, argc, argv);
}

int store_async_intv(struct store *s, int argc, const char **argv, store_int_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_INT, arg);
	if (j)
		j->cb.i = cb;
	return store_job_send(s, j, -1, 0, NULL, argc, argv);
}

int store_async_trigger(struct store *s, int nkeys, const char **keys, int nargs, const char **args,
                        store_trigger_cb cb, void *arg)
{
	struct store_job *j = store_job_new(STORE_JOB_TRIGGER, arg);
	if (j)
		j->cb.t = cb;
	return store_job_send(s, j, STORE_TRIGGER, nkeys, keys, nargs, args);
}

int store_async_active(struct store *s, const char *k_active, const char *k_last, store_active_cb cb, void *arg)
{
	const char *keys[] = {k_active, k_last};
	struct store_job *j = store_job_new(STORE_JOB_ACTIVE, arg);
	if (j)
		j->cb.a = cb;
	return store_job_send(s, j, STORE_ACTIVE, 2, keys, 0, NULL);
}
