/* store_lua: the Lua scripts that keep every multi-key survey step atomic,
 * one per enum store_script (store.h), loaded on every connection before
 * anything else (store.c, store_async.c); and the map of Redis keys they
 * keep. */
#include "store_int.h"

/* The keys (all under "hl:"):
 *   hl:i:{period}                   survey id (8 raw bytes) -> the citizen's number: one hash per
 *                                   100 days (period = unix second / 8640000), kept 400 days after
 *                                   the period ends. A survey's id is derived from its campaign,
 *                                   transaction id and period (sid()), so this one entry both
 *                                   makes a trigger idempotent and finds a running survey by its
 *                                   id. Older versions kept transaction -> id in
 *                                   hl:t:{campaign}:{period} and hl:tx:{campaign}:{transaction}:
 *                                   still read, never written
 *   hl:s:{id}                       a survey not started yet (queued, waiting, held by quiet
 *                                   hours), or one an older version started: a hash (record.c)
 *   hl:queue                        ids waiting for their first item
 *   hl:starting:{inst}              ids one gateway took from the queue, not yet started
 *   hl:c:{msisdn}                   the citizen: a hash. With no survey running, "l" = the unix
 *                                   second their last survey started (resurvey_after), then ":"
 *                                   and the second it ended. While one runs, the running survey
 *                                   itself: "a" its id (8 raw bytes), its fields but "m" (the
 *                                   number is the key's), "l" its last_at; the final COMMIT
 *                                   leaves "l" = "start:end" alone. An older version kept "a" =
 *                                   the id in hex and the survey in hl:s:{id}: such a survey
 *                                   runs to its end there (skey()). Kept 400 days (one key, not
 *                                   the two of older versions, hl:active: and hl:last:, which
 *                                   the scripts fold into it: citizen())
 *   hl:wait:{msisdn}                the citizen's next surveys, in order
 *   hl:optout                       keyed hashes (msisdn_hash) of citizens who opted out:
 *                                   never surveyed again; kept in the archive's optouts
 *   hl:optout:ready:{inst}          the gateway filled hl:optout from its archive (gw_optout.c)
 *   hl:orphan:{msisdn}              a reply without a survey was answered today (TTL 1 day)
 *   hl:due:{second}                 surveys whose timer (or deferred start) is due that second (a
 *                                   list of the citizen's number for a survey in its citizen's
 *                                   hash, of the id for one in hl:s:{id}; the survey's field "d"
 *                                   says which second is its timer's, an entry whose "d" moved
 *                                   on is dropped when met);
 *                                   hl:dueb: zset of those lists -> their second. Older
 *                                   versions kept the zset hl:due (id -> second): still read
 *   hl:outbox:{smsc}                messages to send (JSON)
 *   hl:sending:{smsc}:{inst}        messages one gateway handed to its SMSC session
 *   hl:held:{smsc}                  zset "seq|JSON" -> unix second: messages held by quiet hours
 *   hl:heldseq                      counter that keeps held messages in order
 *   hl:archive, hl:archiving:{inst} finished surveys (JSON) for SQLite
 *   hl:inst:{inst}, hl:instances    a gateway's liveness lease (TTL), the set of gateways
 *   hl:mo:{smsc}:{from}:{to}:{ref}:{total}  the parts of a concatenated MO (addresses
 *                                   in hex); hl:mosets: zset set -> last part (MOSWEEP)
 *   hl:msg:{smsc}:{id}              a sent message, until its receipt (TTL 3 days)
 *   hl:nrunning, hl:nrunning:ok     how many surveys are running (TRIGGER adds one, the final
 *                                   COMMIT takes one; counted once from the survey hashes and
 *                                   the citizens' hashes holding one by gw_gauges.c when :ok
 *                                   is missing)
 * The per-instance lists let several hailongd share one Redis: only the
 * lists of a gateway whose lease ran out are put back in line (REAP). */
/* Where a survey lives. A running survey is kept in its citizen's hash
 * hl:c:{msisdn} (one key per survey fewer: a key costs a dict entry, its
 * name, an object and an expiry), named there by "a", its id in 8 raw bytes
 * (aval); one not started yet is in hl:s:{id}, and so is one an older
 * version started (its citizen's "a" is the id in hex): it runs to its end
 * there. skey(id, m): the hash of survey id (m: its citizen's number, nil
 * when unknown), or nil when it is in neither (finished, or gone); sget(id,
 * m, field...) the same and those fields' values (false when missing), the
 * citizen's hash read first in one HMGET (a survey is never in both).
 * sref(k): how a timer list names the survey in hash k (the number for a
 * citizen's hash, else the id). */
#define STORE_LUA_SURVEY \
	"local function hexid(a)\n" \
	"  if a and #a == 8 then return string.format('%02x%02x%02x%02x%02x%02x%02x%02x', string.byte(a, 1, 8)) end\n" \
	"  return a\n" \
	"end\n" \
	"local function aval(id)\n" \
	"  if #id == 16 and not string.find(id, '%X') then\n" \
	"    local b = {}\n" \
	"    for i = 1, 15, 2 do b[#b + 1] = tonumber(string.sub(id, i, i + 1), 16) end\n" \
	"    return string.char(unpack(b))\n" \
	"  end\n" \
	"  return id\n" \
	"end\n" \
	"local function sget(id, m, ...)\n" \
	"  if type(m) == 'string' and m ~= '' then\n" \
	"    local k = 'hl:c:' .. m\n" \
	"    local h = redis.call('HMGET', k, 'a', 'c', ...)\n" \
	"    if h[1] and h[2] and #h[1] == 8 and h[1] == aval(id) then return k, {select(3, unpack(h))} end\n" \
	"  end\n" \
	"  local k = 'hl:s:' .. id\n" \
	"  if redis.call('EXISTS', k) == 0 then return nil end\n" \
	"  if select('#', ...) == 0 then return k, {} end\n" \
	"  return k, redis.call('HMGET', k, ...)\n" \
	"end\n" \
	"local function skey(id, m)\n" \
	"  return (sget(id, m))\n" \
	"end\n" \
	"local function sref(k)\n" \
	"  return string.sub(k, 6)\n" \
	"end\n"

/* unsend(m): a survey's item put back from a sending list, sent at once by
 * its COMMIT (its entry says what "sq" was before, "p") or taken from the
 * outbox by a TAKE that raised sq (the survey's "tp" says what it was; a
 * TAKE of a later copy of the same item, which raises nothing because the
 * first one left, deletes "tp"), has not left as far as anyone knows: sq
 * goes back, so that a reply to the item before,
 * delivered again after a crash, is not taken for an answer to this one.
 * "uq" notes that this item may have reached the citizen all the same: a
 * reply unlike the last one fed (a redelivery is the same text) answers it
 * (gw_mo_judge). */
#define STORE_LUA_UNSEND \
	"local function unsend(m)\n" \
	"  local ok, o = pcall(cjson.decode, m)\n" \
	"  local k = ok and type(o) == 'table' and type(o.s) == 'string' and type(o.q) == 'number' and skey(o.s, o.to)\n" \
	"  if k then\n" \
	"    local p = o.p\n" \
	"    if type(p) ~= 'number' then p = tonumber(redis.call('HGET', k, 'tp') or '') end\n" \
	"    if p and tonumber(redis.call('HGET', k, 'sq') or '') == o.q then\n" \
	"      if p < 0 then redis.call('HDEL', k, 'sq') else redis.call('HSET', k, 'sq', p) end\n" \
	"      redis.call('HSET', k, 'uq', o.q)\n" \
	"      redis.call('HDEL', k, 'tp')\n" \
	"    end\n" \
	"  end\n" \
	"end\n"

/* citizen(k): the citizen's hash hl:c:{msisdn} ("a" the running survey,
 * "l" the last one's "start[:end]"), made from the two keys an older
 * version kept (hl:active:{msisdn}, hl:last:{msisdn} and its TTL) the first
 * time a script meets that citizen after an upgrade. */
#define STORE_LUA_CITIZEN \
	"local function citizen(k)\n" \
	"  if redis.call('EXISTS', k) == 1 or string.sub(k, 1, 5) ~= 'hl:c:' then return end\n" \
	"  local m = string.sub(k, 6)\n" \
	"  local ka, kl = 'hl:active:' .. m, 'hl:last:' .. m\n" \
	"  local a, l = redis.call('GET', ka), redis.call('GET', kl)\n" \
	"  if a then redis.call('HSET', k, 'a', a) end\n" \
	"  if l then\n" \
	"    redis.call('HSET', k, 'l', l)\n" \
	"    local ttl = redis.call('PTTL', kl)\n" \
	"    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end\n" \
	"  end\n" \
	"  if a or l then redis.call('DEL', ka, kl) end\n" \
	"end\n"

/* The timers (DUE_CLAIM): a survey's next timer is its field "d" (unix
 * second), and its id is in the list hl:due:{d}; hl:dueb indexes those
 * lists by second. A list entry whose survey's "d" is another second (the
 * timer moved, or the survey ended) is dropped when the list comes due: a
 * timer costs a field and a list entry, not a zset member. hl:ndue counts
 * the surveys with a timer. zk is hl:due, the zset of older versions (id ->
 * second), whose members are still honoured.
 * due_set(zk, id, k, t[, cur, set]): the timer of survey id, whose hash is
 * k (skey), at t (nil or 0 = none); cur: its "d" when the caller read it
 * (false = none), set: a list of field, value the caller will HSET into k,
 * where the new "d" goes. Only a survey in hl:s:{id} can be in zk. */
#define STORE_LUA_DUE \
	"local function due_push(zk, id, t)\n" \
	"  local b = zk .. ':' .. string.format('%d', t)\n" \
	"  redis.call('RPUSH', b, id)\n" \
	"  redis.call('ZADD', zk .. 'b', t, b)\n" \
	"end\n" \
	"local function due_set(zk, id, k, t, cur, set)\n" \
	"  if string.sub(k, 1, 5) ~= 'hl:c:' then redis.call('ZREM', zk, id) end\n" \
	"  if cur == nil then cur = redis.call('HGET', k, 'd') end\n" \
	"  cur = tonumber(cur or '')\n" \
	"  if t and t > 0 then\n" \
	"    if cur == t then return end\n" \
	"    if not cur then redis.call('INCR', 'hl:ndue') end\n" \
	"    if set then set[#set + 1] = 'd' set[#set + 1] = string.format('%d', t)\n" \
	"    else redis.call('HSET', k, 'd', string.format('%d', t)) end\n" \
	"    due_push(zk, sref(k), t)\n" \
	"  elseif cur then\n" \
	"    redis.call('HDEL', k, 'd')\n" \
	"    redis.call('DECR', 'hl:ndue')\n" \
	"  end\n" \
	"end\n"

/* txfind(old, pre, now, ttl, tx): the survey a transaction id started
 * under an older version, if within ttl seconds: in the hash of its period
 * of 30 days (2592000 s, those versions' period), pre .. floor(t / period)
 * (field tx, value the survey id, the hash expiring ttl after the period
 * ends), or in the key of its own an even older version wrote (old, with
 * its TTL). nil when none. */
#define STORE_LUA_TXFIND \
	"local function txfind(old, pre, now, ttl, tx)\n" \
	"  local per = 2592000\n" \
	"  local e = redis.call('GET', old)\n" \
	"  if e then return e end\n" \
	"  local ks = {}\n" \
	"  for i = math.floor(now / per), math.floor((now - ttl) / per), -1 do ks[#ks + 1] = pre .. string.format('%d', i) end\n" \
	"  if redis.call('EXISTS', unpack(ks)) == 0 then return nil end\n"  /* none since the upgrade */ \
	"  for _, k in ipairs(ks) do\n" \
	"    e = redis.call('HGET', k, tx)\n" \
	"    if e then return e end\n" \
	"  end\n" \
	"  return nil\n" \
	"end\n"

/* sid(c, tx, p): the id of the survey a trigger of transaction tx of
 * campaign c makes in period p: 16 hex digits of SHA-1 ("c\ntx\np"; neither
 * holds a newline). idfind(c, now, ttl, per, tx): the id of the survey
 * transaction tx started within ttl seconds, if its entry is in
 * hl:i:{period} (periods of per seconds), else nil. */
#define STORE_LUA_SID \
	"local function sid(c, tx, p)\n" \
	"  return string.sub(redis.sha1hex(c .. '\\n' .. tx .. '\\n' .. string.format('%d', p)), 1, 16)\n" \
	"end\n" \
	"local function idfind(c, now, ttl, per, tx)\n" \
	"  for p = math.floor(now / per), math.floor((now - ttl) / per), -1 do\n" \
	"    local id = sid(c, tx, p)\n" \
	"    if redis.call('HEXISTS', 'hl:i:' .. string.format('%d', p), aval(id)) == 1 then return id end\n" \
	"  end\n" \
	"  return nil\n" \
	"end\n"

#define STORE_LUA_CLAIM \
	"citizen(KEYS[1])\n" \
	"local cur = hexid(redis.call('HGET', KEYS[1], 'a'))\n" \
	"if cur == ARGV[1] then return 1 end\n" \
	"if redis.call('EXISTS', KEYS[8]) == 0 then return -2 end\n" \
	"if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('LREM', KEYS[3], 0, ARGV[1]) return -1 end\n" \
	"if cur then\n" \
	"  redis.call('RPUSH', KEYS[2], ARGV[1])\n" \
	"  redis.call('HSET', KEYS[4], 'st', 'waiting')\n" \
	"  redis.call('LREM', KEYS[3], 0, ARGV[1])\n" \
	"  return 0\n" \
	"end\n" \
	"local refuse = 0\n" \
	"if redis.call('SISMEMBER', KEYS[5], ARGV[6]) == 1 then refuse = 2 end\n" \
	"local last = tonumber(string.match(redis.call('HGET', KEYS[6], 'l') or '', '^%d+'))\n" \
	"if refuse == 0 and tonumber(ARGV[4]) > 0 and last and tonumber(ARGV[3]) - last < tonumber(ARGV[4]) then refuse = 3 end\n" \
	"if refuse > 0 then\n" \
	"  local nxt = redis.call('LPOP', KEYS[2])\n"  /* the citizen is free: their next survey goes on */ \
	"  if nxt then redis.call('RPUSH', KEYS[7], nxt) end\n" \
	"  return refuse\n" \
	"end\n" \
	/* the survey moves into its citizen's hash when its id is in hl:i (one an \
	 * older version triggered is not: it runs in hl:s:{id}, found by that id) */ \
	"local per, t = tonumber(ARGV[7] or ''), tonumber(redis.call('HGET', KEYS[4], 't') or '')\n" \
	"if per and t and redis.call('HEXISTS', 'hl:i:' .. string.format('%d', math.floor(t / per)), aval(ARGV[1])) == 1 then\n" \
	"  local f = redis.call('HGETALL', KEYS[4])\n" \
	"  local set = {'a', aval(ARGV[1]), 'l', ARGV[3]}\n" \
	"  for i = 1, #f, 2 do\n" \
	"    if f[i] ~= 'm' and f[i] ~= 'st' and f[i] ~= 'l' and f[i] ~= 'a' then set[#set + 1] = f[i] set[#set + 1] = f[i + 1] end\n" \
	"  end\n" \
	"  redis.call('HSET', KEYS[1], unpack(set))\n" \
	"  redis.call('DEL', KEYS[4])\n" \
	"else\n" \
	"  redis.call('HSET', KEYS[1], 'a', ARGV[1])\n" \
	"  redis.call('HSET', KEYS[6], 'l', ARGV[3])\n" \
	"end\n" \
	"redis.call('EXPIRE', KEYS[6], ARGV[5])\n" \
	"return 1\n"

#define STORE_LUA_COMMIT \
	"local sk, inc = KEYS[1], false\n"  /* in the citizen's hash while it runs there (sget) */ \
	"local h = redis.call('HMGET', KEYS[2], 'a', 'c', 'ver', 'sq', 'd', 's0')\n" \
	"if h[1] and h[2] and #h[1] == 8 and h[1] == aval(ARGV[1]) then\n" \
	"  sk, inc = KEYS[2], true\n" \
	"else\n" \
	"  citizen(KEYS[2])\n" \
	"  inc = redis.call('EXISTS', sk) == 0 and hexid(redis.call('HGET', KEYS[2], 'a')) == ARGV[1] and redis.call('HEXISTS', KEYS[2], 'c') == 1\n" \
	"  if inc then sk = KEYS[2] end\n" \
	"  local v = redis.call('HMGET', sk, 'ver', 'sq', 'd', 's0')\n" \
	"  h = {false, false, v[1], v[2], v[3], v[4]}\n" \
	"end\n" \
	"local ver = h[3]\n" \
	"local want, need = string.match(ARGV[2], '^(%d*):(%d+)$')\n" \
	"if want then\n" \
	"  if ver ~= want or (tonumber(h[4]) or -1) < tonumber(need) then return 0 end\n" \
	"elseif ARGV[2] ~= '' and ver ~= ARGV[2] then return 0 end\n" \
	"local n = tonumber(ARGV[9])\n" \
	"local hold = tonumber(ARGV[7])\n" \
	"for i = 1, n do\n" \
	"  if hold > 0 then\n" \
	"    local seq = redis.call('INCR', KEYS[10])\n" \
	"    redis.call('ZADD', KEYS[9], hold, string.format('%020d|', seq) .. ARGV[9 + i])\n" \
	"  else redis.call('RPUSH', KEYS[13] or KEYS[7], ARGV[9 + i]) end\n" \
	"end\n" \
	"redis.call('LREM', KEYS[8], 0, ARGV[1])\n" \
	"if ARGV[6] ~= '' then redis.call('SADD', KEYS[11], ARGV[6]) end\n" \
	"if ARGV[3] == '1' then\n" \
	"  due_set(KEYS[6], ARGV[1], sk, 0, h[5])\n" \
	"  redis.call('RPUSH', KEYS[5], ARGV[5])\n" \
	"  if inc then\n"  /* the citizen keeps "l", start:end, and nothing of the survey */ \
	"    local start = h[6] or ARGV[8]\n" \
	"    local del = {}\n" \
	"    for _, f in ipairs(redis.call('HKEYS', sk)) do if f ~= 'l' then del[#del + 1] = f end end\n" \
	"    redis.call('HDEL', sk, unpack(del))\n" \
	"    redis.call('HSET', sk, 'l', start .. ':' .. ARGV[8])\n" \
	"    redis.call('DECR', 'hl:nrunning')\n" \
	"    local nxt = redis.call('LPOP', KEYS[3])\n" \
	"    if nxt then redis.call('RPUSH', KEYS[4], nxt) end\n" \
	"    return 1\n" \
	"  end\n" \
	"  if hexid(redis.call('HGET', KEYS[2], 'a')) == ARGV[1] then\n" \
	"    redis.call('HDEL', KEYS[2], 'a')\n" \
	"    local start = string.match(redis.call('HGET', KEYS[12], 'l') or '', '^%d+')\n" \
	"    if start then redis.call('HSET', KEYS[12], 'l', start .. ':' .. ARGV[8]) end\n" \
	"    local nxt = redis.call('LPOP', KEYS[3])\n" \
	"    if nxt then redis.call('RPUSH', KEYS[4], nxt) end\n" \
	"  end\n" \
	"  if redis.call('DEL', KEYS[1]) == 1 then redis.call('DECR', 'hl:nrunning') end\n" \
	"  return 1\n" \
	"end\n" \
	"local set, del = {}, {}\n"  /* a field whose value is '' is deleted (record.c: a 0 left out) */ \
	/* and so is its long name of hashes written before the short ones, which \
	 * record.c reads when the short one is missing: a counter back at 0 would \
	 * read as the long name's old value */ \
	"local long = {i = 'invalid', r = 'reminded', st = 'status'}\n" \
	"for i = 10 + n, #ARGV - 1, 2 do\n" \
	"  if ARGV[i + 1] == '' then\n" \
	"    del[#del + 1] = ARGV[i]\n" \
	"    if long[ARGV[i]] then del[#del + 1] = long[ARGV[i]] end\n" \
	"  else set[#set + 1] = ARGV[i] set[#set + 1] = ARGV[i + 1] end\n" \
	"end\n" \
	"if #del > 0 then redis.call('HDEL', sk, unpack(del)) end\n" \
	"set[#set + 1] = 'ver'\n" \
	"set[#set + 1] = (tonumber(ver) or 0) + 1\n" \
	"due_set(KEYS[6], ARGV[1], sk, tonumber(ARGV[4]), h[5], set)\n" \
	"redis.call('HSET', sk, unpack(set))\n" \
	"return 1\n"

/* START holds CLAIM, COMMIT and their helpers: longer than the 4095
 * characters ISO C asks a compiler to take in one string literal, which
 * gcc and clang take all the same. */
#pragma GCC diagnostic ignored "-Woverlength-strings"
const char *const store_lua[STORE_NSCRIPTS] = {
	/* TRIGGER: KEYS tx (an older version's key), survey (unused: the id is
	 * derived, sid), queue, tx period prefix (hl:t:{campaign}:, an older
	 * version's hashes; it also names the campaign); ARGV id (unused),
	 * tx_ttl, now, period, transaction id, field, value... (with "m", the
	 * number). Returns {1, id} for a new survey, {0, id} for a transaction
	 * seen within tx_ttl (idfind, or txfind for an older version's). */
	STORE_LUA_SURVEY STORE_LUA_SID STORE_LUA_TXFIND
	"local now, ttl, per = tonumber(ARGV[3]), tonumber(ARGV[2]), tonumber(ARGV[4])\n"
	"local camp = string.sub(KEYS[4], 6, -2)\n"
	"local e = idfind(camp, now, ttl, per, ARGV[5]) or txfind(KEYS[1], KEYS[4], now, ttl, ARGV[5])\n"
	"if e then return {0, e} end\n"
	"local p = math.floor(now / per)\n"
	"local id = sid(camp, ARGV[5], p)\n"
	"local m = ''\n"
	"for i = 6, #ARGV - 1, 2 do if ARGV[i] == 'm' then m = ARGV[i + 1] end end\n"
	"local k = 'hl:i:' .. string.format('%d', p)\n"
	"redis.call('HSET', k, aval(id), m)\n"
	"redis.call('EXPIREAT', k, (p + 1) * per + ttl)\n"
	"redis.call('HSET', 'hl:s:' .. id, unpack(ARGV, 6))\n"
	"redis.call('RPUSH', KEYS[3], id)\n"
	"redis.call('INCR', 'hl:nrunning')\n"
	"return {1, id}\n",
	/* CLAIM: KEYS active, wait, starting, survey, optout, last, queue, optout
	 * ready; ARGV id, msisdn, now, resurvey_after (s, 0 = none), last_ttl,
	 * msisdn hash, period (of hl:i). 1 = the citizen is ours now, and the
	 * survey moved into the citizen's hash (STORE_LUA_SURVEY); 0 = queued
	 * behind the running survey; -1 = the survey is gone; 2 = opted out; 3 =
	 * surveyed too recently; -2 = the opt-outs are not in Redis (it came back
	 * empty): nothing changed, restore them first. */
	STORE_LUA_SURVEY STORE_LUA_CITIZEN STORE_LUA_CLAIM,
	/* COMMIT: KEYS survey, active, wait, queue, archive, due, outbox, starting,
	 * held, heldseq, optout, last[, sending: the messages go there, to be
	 * handed to the SMSC at once, instead of the outbox]; ARGV id, expected ver ('' = any), finished,
	 * due, archive json (its opted_out status reaches the archive's optouts),
	 * opt-out msisdn hash ('' = none), hold until (0 = send now),
	 * now, nmsg, msg..., field, value... (value '' = delete the field). Returns 1, or 0 when ver moved (retry).
 * An expected ver "V:Q" also requires sq >= Q (the item answered was handed
 * to the SMSC): a reply read from the gateway's copy of the survey.
	 * A survey that ends while holding its citizen notes the second it ended
	 * in hl:last ("start:end"): a reply that comes after it (the SMSC delivers
	 * the last answer again after a crash) is acknowledged without a notice. */
	STORE_LUA_SURVEY STORE_LUA_CITIZEN STORE_LUA_DUE STORE_LUA_COMMIT,
	/* DUE_CLAIM: KEYS due; ARGV now, lease, max. Leases up to max due
	 * timers (moved to now+lease) so one process handles each, and a crash
	 * retries; returns {id1, {field, value, ...}, id2, ...}: each survey
	 * with its state (as HGETALL gives it, with "m" for one in its
	 * citizen's hash), read in the same step. */
	STORE_LUA_SURVEY STORE_LUA_DUE
	"local now, at, max = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"local out = {}\n"
	"local function took(id, k)\n"
	"  out[#out + 1] = id\n"
	"  local f = redis.call('HGETALL', k)\n"
	"  if string.sub(k, 1, 5) == 'hl:c:' then f[#f + 1] = 'm' f[#f + 1] = sref(k) end\n"
	"  out[#out + 1] = f\n"
	"end\n"
	"for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, max)) do\n"
	"  local k = 'hl:s:' .. id\n"
	"  if redis.call('EXISTS', k) == 1 then due_set(KEYS[1], id, k, at) took(id, k)\n"
	"  else redis.call('ZREM', KEYS[1], id) end\n"
	"end\n"
	"for _, b in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1] .. 'b', '-inf', now, 'LIMIT', 0, 64)) do\n"
	"  if #out >= 2 * max then break end\n"
	"  local t = tonumber(string.match(b, ':(%d+)$'))\n"
	"  while #out < 2 * max do\n"
	"    local ref = redis.call('LPOP', b)\n"
	"    if not ref then break end\n"
	/* a number (up to 15 digits) names a citizen's hash, anything else an id */
	"    local k, id = 'hl:s:' .. ref, ref\n"
	"    if #ref <= 15 and string.match(ref, '^%d+$') then\n"
	"      k = 'hl:c:' .. ref\n"
	"      id = redis.call('HEXISTS', k, 'c') == 1 and hexid(redis.call('HGET', k, 'a'))\n"
	"    end\n"
	"    if id and tonumber(redis.call('HGET', k, 'd') or '') == t then\n"
	"      redis.call('HSET', k, 'd', string.format('%d', at))\n"
	"      due_push(KEYS[1], ref, at)\n"
	"      took(id, k)\n"
	"    end\n"
	"  end\n"
	"  if redis.call('EXISTS', b) == 0 then redis.call('ZREM', KEYS[1] .. 'b', b) end\n"
	"end\n"
	"return out\n",
	/* ARCHIVE_TAKE: KEYS archive, archiving; ARGV max. Returns what is in
	 * archiving (left by a failed write) or moves up to max new records there. */
	"local cur = redis.call('LRANGE', KEYS[2], 0, -1)\n"
	"if #cur > 0 then return cur end\n"
	/* the whole line fits one batch (as it does while the archive keeps
	 * up): the list itself becomes ours, not copied (the append-only file
	 * then logs one RENAME, not every record a second time) */
	"if redis.call('LLEN', KEYS[1]) <= tonumber(ARGV[1]) then\n"
	"  local all = redis.call('LRANGE', KEYS[1], 0, -1)\n"
	"  if #all > 0 then redis.call('RENAME', KEYS[1], KEYS[2]) end\n"
	"  return all\n"
	"end\n"
	/* three calls whatever the batch (an LMOVE per record held Redis for
	 * half a millisecond at a time under load) */
	"local got = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)\n"
	"if #got == 0 then return got end\n"
	"redis.call('RPUSH', KEYS[2], unpack(got))\n"
	"redis.call('LTRIM', KEYS[1], #got, -1)\n"
	"return got\n",
	/* REQUEUE: KEYS from, to. Moves everything back to the head of `to`, in order. */
	"local n = 0\n"
	"while redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT') do n = n + 1 end\n"
	"return n\n",
	/* DEFER: KEYS due, starting; ARGV id, at. A start held by quiet hours:
	 * the id waits in the due zset (a queued survey there is put back in the
	 * queue when due, see WAKE). */
	STORE_LUA_SURVEY STORE_LUA_DUE
	"due_set(KEYS[1], ARGV[1], 'hl:s:' .. ARGV[1], tonumber(ARGV[2]))\n"
	"redis.call('LREM', KEYS[2], 0, ARGV[1])\n"
	"return 1\n",
	/* WAKE: KEYS due, queue; ARGV id. Back in the queue, once. */
	"local old = redis.call('ZREM', KEYS[1], ARGV[1])\n"
	"local cur = redis.call('HDEL', 'hl:s:' .. ARGV[1], 'd')\n"
	"if cur == 1 then redis.call('DECR', 'hl:ndue') end\n"
	"if old + cur > 0 then redis.call('RPUSH', KEYS[2], ARGV[1]) return 1 end\n"
	"return 0\n",
	/* HELD_RELEASE: KEYS held, outbox; ARGV now, max. Held messages whose
	 * quiet hours are over go to the outbox, in the order they were held. */
	"local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
	"for _, m in ipairs(ms) do\n"
	"  redis.call('RPUSH', KEYS[2], string.sub(m, 22))\n"
	"  redis.call('ZREM', KEYS[1], m)\n"
	"end\n"
	"return #ms\n",
	/* REAP: KEYS lease, instances, starting, queue, archiving, archive,
	 * then (sending, outbox) per SMSC; ARGV inst, force. When the instance's
	 * lease is gone (or force = '1': our own clean stop), its lists go back in
	 * line and it leaves the set. Returns the number of entries moved, -1 when
	 * the instance is alive. */
	"if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end\n"
	"local n = 0\n"
	STORE_LUA_SURVEY STORE_LUA_UNSEND
	"local function back(from, to, msgs)\n"
	"  while true do\n"
	"    local m = redis.call('LMOVE', from, to, 'RIGHT', 'LEFT')\n"
	"    if not m then break end\n"
	"    n = n + 1\n"
	"    if msgs then unsend(m) end\n"
	"  end\n"
	"end\n"
	"back(KEYS[3], KEYS[4])\n"
	"back(KEYS[5], KEYS[6])\n"
	"for i = 7, #KEYS, 2 do back(KEYS[i], KEYS[i + 1], true) end\n"
	"redis.call('SREM', KEYS[2], ARGV[1])\n"
	"redis.call('DEL', KEYS[1])\n"
	"return n\n",
	/* NOTICE: KEYS marker, outbox, optout, archive; ARGV ttl, message, opt-out
	 * msisdn hash ('' = none), its archive record. A message to a number
	 * without a survey, at most once per ttl (the marker); an opt-out is
	 * recorded every time (a new one also goes to the archive). 1 = queued. */
	"if ARGV[3] ~= '' and redis.call('SADD', KEYS[3], ARGV[3]) == 1 then redis.call('RPUSH', KEYS[4], ARGV[4]) end\n"
	"if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end\n"
	"redis.call('RPUSH', KEYS[2], ARGV[2])\n"
	"return 1\n",
	/* TAKE: KEYS outbox, sending; ARGV max, now. Moves up to max messages to send
	 * into the sending list and returns {keep, entry, sq before, ...} in
	 * order; for an item of a survey it raises the survey's "sq" (the last
	 * item handed to the SMSC) and its "l" (when its last message left: a
	 * reminder counts from then, and so does the window in which an answer
	 * is taken to have crossed a reminder, not from when the message was
	 * made, as it may have waited in line) in the same step, and "tp", what
	 * sq was before it rose (see unsend), so a reply can only answer
	 * an item that left and a duplicate deliver_sm of the previous answer is
	 * never taken for the next item (PUTBACK lowers it again for an item that
	 * did not leave after all). An item the survey has moved past (or a
	 * finished survey's item: a copy re-sent after a crash) is not sent
	 * again: keep 0, dropped from the sending list. Empty: {}. */
	STORE_LUA_SURVEY
	"local out = {}\n"
	"for i = 1, tonumber(ARGV[1]) do\n"
	"  local m = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')\n"
	"  if not m then break end\n"
	"  local keep, prev = 1, ''\n"
	"  local ok, o = pcall(cjson.decode, m)\n"
	"  if ok and type(o) == 'table' and type(o.s) == 'string' and type(o.q) == 'number' and o.q >= 0 then\n"
	"    local k, h = sget(o.s, o.to, 'q', 'sq', 'l')\n"
	"    if not k or tonumber(h[1] or '') ~= o.q then\n"
	"      redis.call('LREM', KEYS[2], -1, m)\n"
	"      keep = 0\n"
	"    else\n"
	"      prev = h[2] or ''\n"
	"      local cur = tonumber(prev)\n"
	"      local set = {}\n"
	"      if (not cur) or cur < o.q then set = {'sq', o.q, 'tp', cur or -1}\n"
	"      else redis.call('HDEL', k, 'tp') end\n"
	"      local now = tonumber(ARGV[2] or '')\n"
	"      if now and now > (tonumber(h[3] or '') or 0) then set[#set + 1] = 'l' set[#set + 1] = now end\n"
	"      if #set > 0 then redis.call('HSET', k, unpack(set)) end\n"
	"    end\n"
	"  end\n"
	"  out[#out + 1] = keep\n"
	"  out[#out + 1] = m\n"
	"  out[#out + 1] = prev\n"
	"end\n"
	"return out\n",
	/* PUTBACK: KEYS sending, outbox; ARGV (entry, sq before)... in the order
	 * TAKE gave them. Messages taken that did not leave: back to the head of
	 * the outbox in their order, and an item's "sq" back to what it was (if
	 * nothing raised it further meanwhile). An entry no longer in our list
	 * is left alone (this may run twice). Returns the entries moved. */
	STORE_LUA_SURVEY
	"local n = 0\n"
	"for i = #ARGV - 1, 1, -2 do\n"
	"  local m = ARGV[i]\n"
	"  if redis.call('LREM', KEYS[1], -1, m) == 1 then\n"
	"    redis.call('LPUSH', KEYS[2], m)\n"
	"    n = n + 1\n"
	"    local ok, o = pcall(cjson.decode, m)\n"
	"    if ok and type(o) == 'table' and type(o.s) == 'string' and type(o.q) == 'number' and o.q >= 0 then\n"
	"      local k = skey(o.s, o.to)\n"
	"      if k and tonumber(redis.call('HGET', k, 'sq') or '') == o.q then\n"
	"        if ARGV[i + 1] == '' then redis.call('HDEL', k, 'sq') else redis.call('HSET', k, 'sq', ARGV[i + 1]) end\n"
	"      end\n"
	"    end\n"
	"  end\n"
	"end\n"
	"return n\n",
	/* GIVEBACK: KEYS sending, outbox; ARGV entry. An entry of our sending
	 * list that no SMPP session holds (its hand-over failed half-way, e.g.
	 * Redis went away between two steps) goes back to the head of the outbox. */
	STORE_LUA_SURVEY STORE_LUA_UNSEND
	"if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then\n"
	"  redis.call('LPUSH', KEYS[2], ARGV[1])\n"
	"  unsend(ARGV[1])\n"
	"  return 1\n"
	"end\n"
	"return 0\n",
	/* ACTIVE: KEYS active, last (the citizen's hash, both). The citizen's
	 * running survey: {id, its hash as HGETALL gives it, with "m" for one
	 * in the citizen's hash} (the hash is empty when the survey just
	 * finished), or, when there is none, the second their last survey ended
	 * (0 = none noted). */
	STORE_LUA_SURVEY STORE_LUA_CITIZEN
	/* one HGETALL when the survey runs in the citizen's hash */
	"local f = redis.call('HGETALL', KEYS[1])\n"
	"if #f == 0 then citizen(KEYS[1]) f = redis.call('HGETALL', KEYS[1]) end\n"
	"local a, c, l = false, false, false\n"
	"for i = 1, #f, 2 do\n"
	"  if f[i] == 'a' then a = f[i + 1] elseif f[i] == 'c' then c = true elseif f[i] == 'l' then l = f[i + 1] end\n"
	"end\n"
	"if not a then return tonumber(string.match(l or '', ':(%d+)$')) or 0 end\n"
	"local id = hexid(a)\n"
	"if #a == 8 then\n"
	"  if not c then return {id, {}} end\n"
	"  f[#f + 1] = 'm'\n"
	"  f[#f + 1] = sref(KEYS[1])\n"
	"  return {id, f}\n"
	"end\n"
	"if redis.call('EXISTS', 'hl:s:' .. id) == 0 then return {id, {}} end\n"
	"return {id, redis.call('HGETALL', 'hl:s:' .. id)}\n",
	/* RECLAIM: KEYS sending, outbox; ARGV entry. After our lease ran out, a
	 * peer may have put a message our session still holds back in the outbox:
	 * take it back if it is still there. 1 = ours (listed in sending), 0 = a
	 * peer has taken it meanwhile. */
	"if redis.call('LPOS', KEYS[1], ARGV[1]) then return 1 end\n"
	"if redis.call('LREM', KEYS[2], 1, ARGV[1]) == 1 then\n"
	"  redis.call('RPUSH', KEYS[1], ARGV[1])\n"
	"  return 1\n"
	"end\n"
	"return 0\n",
	/* MOPART: KEYS set, index; ARGV part (1-based), total, data_coding, hex
	 * bytes, ttl, now, busy_for. Keeps one part of a concatenated MO (whichever
	 * gateway receives the others; a part that came again replaces its copy)
	 * and notes the set's last activity in the index (for MOSWEEP). Returns:
	 * the number of parts held (>= 1) while incomplete; when this part
	 * completes the set, {dc1, hex1, ..., dcN, hexN}, and the set is busy
	 * (being handled by this caller, who ends it with MOEND) for busy_for
	 * seconds; -1 when another caller is handling it now (come back later);
	 * -2 when the set was handled already and this part is a copy of one of
	 * its parts (a redelivery: nothing to do). A part that differs from a
	 * handled set's starts a new message (the sender reused the reference). */
	"local st = redis.call('HGET', KEYS[1], 'state')\n"
	"local now = tonumber(ARGV[6])\n"
	"if st == 'done' then\n"
	"  if redis.call('HGET', KEYS[1], 'p' .. ARGV[1]) == ARGV[4] then return -2 end\n"
	"  redis.call('DEL', KEYS[1])\n"
	"  st = false\n"
	"end\n"
	"if st == 'busy' and now - tonumber(redis.call('HGET', KEYS[1], 'at') or '0') < tonumber(ARGV[7]) then\n"
	"  return -1\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'p' .. ARGV[1], ARGV[4], 'd' .. ARGV[1], ARGV[3])\n"
	"redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
	"redis.call('ZADD', KEYS[2], now, KEYS[1])\n"
	"local total = tonumber(ARGV[2])\n"
	"local have = 0\n"
	"for i = 1, total do have = have + redis.call('HEXISTS', KEYS[1], 'p' .. i) end\n"
	"if have < total then return have end\n"
	"redis.call('HSET', KEYS[1], 'state', 'busy', 'at', now)\n"
	"local out = {}\n"
	"for i = 1, total do\n"
	"  out[#out + 1] = redis.call('HGET', KEYS[1], 'd' .. i)\n"
	"  out[#out + 1] = redis.call('HGET', KEYS[1], 'p' .. i)\n"
	"end\n"
	"return out\n",
	/* MOEND: KEYS set, index; ARGV ok ('1' = the reply it made is stored),
	 * ttl, done_ttl. Ends the handling MOPART gave: done (kept done_ttl
	 * seconds to recognise redelivered parts), or back to waiting for the
	 * part to come again. */
	"if redis.call('HGET', KEYS[1], 'state') ~= 'busy' then return 0 end\n"
	"if ARGV[1] == '1' then\n"
	"  redis.call('HSET', KEYS[1], 'state', 'done')\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[3])\n"
	"  redis.call('ZREM', KEYS[2], KEYS[1])\n"
	"else\n"
	"  redis.call('HDEL', KEYS[1], 'state', 'at')\n"
	"  redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
	"end\n"
	"return 1\n",
	/* MOSWEEP: KEYS index; ARGV before, max. Sets with no part since
	 * `before` that never completed: deleted; returns {key, parts held, ...}. */
	"local out = {}\n"
	"for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do\n"
	"  redis.call('ZREM', KEYS[1], k)\n"
	"  if redis.call('HGET', k, 'state') ~= 'done' and redis.call('EXISTS', k) == 1 then\n"
	"    local have = 0\n"
	"    for _, f in ipairs(redis.call('HKEYS', k)) do\n"
	"      if string.sub(f, 1, 1) == 'p' then have = have + 1 end\n"
	"    end\n"
	"    redis.call('DEL', k)\n"
	"    out[#out + 1] = k\n"
	"    out[#out + 1] = have\n"
	"  end\n"
	"end\n"
	"return out\n",
	/* SENT: what the SMSC reported lately, in one round trip. KEYS
	 * deliveries, then sending1, message1, ..., sendingN, messageN (its
	 * answers), then the message keys of its receipts; ARGV ttl, now, N,
	 * entry1, record1 ('' = none), ..., then smsc, message id, state per
	 * receipt. An answered message goes off its sending list and (accepted
	 * with an id) its record is kept until its receipt. The first final
	 * receipt of a sent message (its record is taken, so a second receipt,
	 * e.g. one per part of a long message, finds nothing) becomes a delivery
	 * record for the archive. The record is written only with the entry
	 * taken off: a SENT that runs late (its reply lost, Redis held up), after
	 * KEEP wrote the record and its receipt took it, writes nothing (a
	 * repeated receipt would find it and count the delivery twice).
	 * Returns one number per receipt: 1 = recorded,
	 * 0 = unknown or already. Answers go first: a receipt of the same batch
	 * finds its message. An entry at the head of its list (messages are
	 * mostly answered in the order they left) goes by LPOP: the same entry
	 * as LREM's first match, and the append-only file logs the key alone,
	 * not the whole entry again. */
	"local function off(k, v)\n"
	"  if redis.call('LINDEX', k, 0) == v then redis.call('LPOP', k) return 1 end\n"
	"  return redis.call('LREM', k, 1, v)\n"
	"end\n"
	"local n = tonumber(ARGV[3])\n"
	"for i = 1, n do\n"
	"  if off(KEYS[2 * i], ARGV[2 + 2 * i]) == 1 and ARGV[3 + 2 * i] ~= '' then\n"
	"    redis.call('SET', KEYS[2 * i + 1], ARGV[3 + 2 * i], 'EX', ARGV[1])\n"
	"  end\n"
	"end\n"
	"local out = {}\n"
	"for i = 2 + 2 * n, #KEYS do\n"
	"  local v = redis.call('GET', KEYS[i])\n"
	"  if v then\n"
	"    redis.call('DEL', KEYS[i])\n"
	"    local ok, o = pcall(cjson.decode, v)\n"
	"    if not ok or type(o) ~= 'table' then o = {} end\n"
	"    local j = 4 + 2 * n + (i - 2 - 2 * n) * 3\n"
	"    o.smsc = ARGV[j]\n"
	"    o.m = ARGV[j + 1]\n"
	"    o.st = ARGV[j + 2]\n"
	"    o.at = tonumber(ARGV[2])\n"
	"    redis.call('RPUSH', KEYS[1], cjson.encode(o))\n"
	"    out[#out + 1] = 1\n"
	"  else out[#out + 1] = 0 end\n"
	"end\n"
	"return out\n",
	/* POP: KEYS queue, starting; ARGV most. Up to `most` surveys from the
	 * head of the queue into our starting list, each returned with its
	 * record: {id1, {field, value, ...}, id2, ...}, in one round trip. */
	"local out = {}\n"
	"for i = 1, tonumber(ARGV[1]) do\n"
	"  local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')\n"
	"  if not id then break end\n"
	"  out[#out + 1] = id\n"
	"  out[#out + 1] = redis.call('HGETALL', 'hl:s:' .. id)\n"
	"end\n"
	"return out\n",
	/* START: CLAIM then, when the citizen is ours, COMMIT of the first
	 * step, in one round trip. KEYS: CLAIM's 8, then COMMIT's; ARGV: the
	 * number of CLAIM's keys and of its arguments, CLAIM's arguments, then
	 * COMMIT's. Returns {claim, commit}: commit is 0 unless claim is 1;
	 * claim -3 = the survey's version moved (nothing done). */
	STORE_LUA_SURVEY STORE_LUA_CITIZEN STORE_LUA_DUE
	"local function claim(KEYS, ARGV)\n" STORE_LUA_CLAIM "end\n"
	"local function commit(KEYS, ARGV)\n" STORE_LUA_COMMIT "end\n"
	"local nk, na = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
	"local k1, a1, k2, a2 = {}, {}, {}, {}\n"
	"for i = 1, #KEYS do if i <= nk then k1[#k1 + 1] = KEYS[i] else k2[#k2 + 1] = KEYS[i] end end\n"
	"for i = 3, #ARGV do if i - 2 <= na then a1[#a1 + 1] = ARGV[i] else a2[#a2 + 1] = ARGV[i] end end\n"
	"if a2[2] ~= '' and redis.call('EXISTS', k2[1]) == 1 and redis.call('HGET', k2[1], 'ver') ~= a2[2] then\n"
	"  return {-3, 0}\n"
	"end\n"
	"local c = claim(k1, a1)\n"
	"if c ~= 1 then return {c, 0} end\n"
	"return {1, commit(k2, a2)}\n",
	/* UNCLAIM: KEYS starting, queue; ARGV id. A survey taken from the queue
	 * that cannot start yet (or whose START's reply was lost) goes back to
	 * its head, if it is still on our starting list (a START that ran took
	 * it off). 1 = moved. */
	"if redis.call('LREM', KEYS[1], 0, ARGV[1]) == 0 then return 0 end\n"
	"redis.call('LPUSH', KEYS[2], ARGV[1])\n"
	"return 1\n",
	/* KEEP: KEYS sending, msg; ARGV entry, record, ttl. A sent message's
	 * record whose SENT was lost: written only if SENT did not run (its
	 * entry is still on the sending list, taken off now). When SENT ran, its
	 * receipt may have taken the record already: writing it again would
	 * let a repeated receipt record the delivery twice. 1 = written. */
	"if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end\n"
	"redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])\n"
	"return 1\n",
	/* TXGET: KEYS tx (an older version's key), tx period prefix
	 * (hl:t:{campaign}:); ARGV now, tx_ttl, period, transaction id. The
	 * survey id or nil (idfind, then txfind). */
	STORE_LUA_SURVEY STORE_LUA_SID STORE_LUA_TXFIND
	"local now, ttl, per = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
	"return idfind(string.sub(KEYS[2], 6, -2), now, ttl, per, ARGV[4]) or txfind(KEYS[1], KEYS[2], now, ttl, ARGV[4])\n",
	/* LOAD: ARGV id, now, tx_ttl, period. A survey found by its id alone
	 * (the API, a cancel, an item the SMSC refused): its own hash, or its
	 * citizen's, whose number hl:i holds (with "m" added), as HGETALL gives
	 * it; {} when it is in neither. */
	STORE_LUA_SURVEY
	"local id, now, ttl, per = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])\n"
	"if redis.call('EXISTS', 'hl:s:' .. id) == 1 then return redis.call('HGETALL', 'hl:s:' .. id) end\n"
	"for p = math.floor(now / per), math.floor((now - ttl) / per), -1 do\n"
	"  local m = redis.call('HGET', 'hl:i:' .. string.format('%d', p), aval(id))\n"
	"  if m then\n"
	"    local k = skey(id, m)\n"
	"    if not k then return {} end\n"
	"    local f = redis.call('HGETALL', k)\n"
	"    f[#f + 1] = 'm'\n"
	"    f[#f + 1] = m\n"
	"    return f\n"
	"  end\n"
	"end\n"
	"return {}\n",
};
