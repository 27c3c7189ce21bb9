/* archive_backup: a consistent copy of the archive while hailongd writes it (SQLite's online backup). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "archive_int.h"

int archive_backup(const char *src_path, const char *dst_path, char *err, size_t errlen)
{
	sqlite3 *src = NULL, *dst = NULL;
	sqlite3_backup *b = NULL;
	char tmp[4096];
	int rc = -EIO, pages = 0;
	struct stat st;

	if (stat(dst_path, &st) == 0) {
		archive_seterr(err, errlen, "%s: exists (a backup never writes over a file)", dst_path);
		return -EEXIST;
	}
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.partial", dst_path) >= sizeof tmp) {
		archive_seterr(err, errlen, "%s: path too long", dst_path);
		return -EINVAL;
	}
	unlink(tmp);
	if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "%s: %s", src_path, src ? sqlite3_errmsg(src) : "cannot open");
		goto done;
	}
	sqlite3_busy_timeout(src, 5000);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "%s: %s", tmp, dst ? sqlite3_errmsg(dst) : "cannot open");
		goto done;
	}
	b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		archive_seterr(err, errlen, "%s: %s", dst_path, sqlite3_errmsg(dst));
		goto done;
	}
	/* All pages in one step, inside one read transaction: the archive is in
	 * WAL mode, so hailongd's writes go on meanwhile, and the copy is the
	 * archive as of the step's start. (Copying a few pages at a time would
	 * restart at every write of another connection: under a steady writer
	 * it would never end.) Busy only while a writer changes the schema. */
	for (int tries = 0;; tries++) {
		int s = sqlite3_backup_step(b, -1);
		if (s == SQLITE_DONE)
			break;
		if ((s != SQLITE_BUSY && s != SQLITE_LOCKED) || tries >= 500) {
			/* a full or read-only destination is the copy's trouble, not the archive's */
			int at_dst = (s & 0xff) == SQLITE_FULL || (s & 0xff) == SQLITE_READONLY;
			archive_seterr(err, errlen, "%s: backup: %s%s", at_dst ? dst_path : src_path, sqlite3_errstr(s),
			               at_dst ? " (writing the copy; the archive is untouched)" : "");
			goto done;
		}
		sqlite3_sleep(10);
	}
	pages = sqlite3_backup_pagecount(b);
	sqlite3_backup_finish(b);
	b = NULL;
	if (sqlite3_errcode(dst) != SQLITE_OK) {
		archive_seterr(err, errlen, "%s: %s", tmp, sqlite3_errmsg(dst));
		goto done;
	}
	sqlite3_stmt *q = NULL;
	int ok = sqlite3_prepare_v2(dst, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK &&
	         sqlite3_step(q) == SQLITE_ROW &&
	         strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
	sqlite3_finalize(q);
	if (!ok || sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		archive_seterr(err, errlen, "%s: the copy does not pass PRAGMA quick_check", tmp);
		goto done;
	}
	sqlite3_close(dst);
	dst = NULL;
	if (link(tmp, dst_path) < 0) { /* never over a file made meanwhile */
		archive_seterr(err, errlen, "%s: %s", dst_path, strerror(errno));
		goto done;
	}
	unlink(tmp);
	rc = pages;
done:
	if (b)
		sqlite3_backup_finish(b);
	sqlite3_close(dst);
	sqlite3_close(src);
	if (rc < 0)
		unlink(tmp);
	return rc;
}
