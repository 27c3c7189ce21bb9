#!/usr/bin/env python3
"""An upgrade on a Redis that holds an older key layout, twice:

- the previous one: a running survey in hl:s:{id} (with "m"), its citizen's
  hash hl:c:{msisdn} holding "a" = the id in hex and "l" = its start, the
  transaction ids in hl:t:{campaign}:{period} (transaction -> id), the
  timer lists naming ids;
- the oldest one, on top of that: hl:active:{msisdn} + hl:last:{msisdn},
  one hl:tx:{campaign}:{transaction} key per trigger, the timers in the
  zset hl:due, "st active" and counters at 0 in the survey hash.

The gateway is stopped mid-survey, its state is put back into that layout
(as the older version wrote it), and a gateway of this version is started
on it: the surveys finish with every answer where they are, no item is sent
twice, a trigger repeated gets the survey it started, a second survey of the
same citizen triggered after the upgrade waits for the first and then runs
in this version's layout (in the citizen's hash), a citizen's end noted the
old way still spares a late reply the notice, and the old keys are gone once
met."""
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

check = harness.check
wait_for = harness.wait_for
inbox = harness.inbox
mo = harness.mo


# The previous layout, made from this one in one script: a survey running in
# its citizen's hash goes back to hl:s:{id} ("m" added), the citizen keeps
# "a" (the id in hex) and "l" (its start), the timer lists name the id, and
# the transaction ids go from hl:i:{period} back to hl:t:{campaign}:{period}.
TO_PREVIOUS = r"""
local per = 2592000
local function hex(a)
  return (string.gsub(a, '.', function(c) return string.format('%02x', string.byte(c)) end))
end
local function keys(pat)
  local out, cur = {}, '0'
  repeat
    local r = redis.call('SCAN', cur, 'MATCH', pat, 'COUNT', 1000)
    cur = r[1]
    for _, k in ipairs(r[2]) do out[#out + 1] = k end
  until cur == '0'
  return out
end
local moved = 0
for _, k in ipairs(keys('hl:c:*')) do
  if redis.call('HEXISTS', k, 'c') == 1 then
    local m = string.sub(k, 6)
    local f = redis.call('HGETALL', k)
    local id, start, set = nil, nil, {'m', m}
    for i = 1, #f, 2 do
      if f[i] == 'a' then id = hex(f[i + 1]) else set[#set + 1] = f[i] set[#set + 1] = f[i + 1] end
      if f[i] == 's0' then start = f[i + 1] end
    end
    redis.call('HSET', 'hl:s:' .. id, unpack(set))
    local ttl = redis.call('PTTL', k)
    redis.call('DEL', k)
    redis.call('HSET', k, 'a', id, 'l', start)
    if ttl > 0 then redis.call('PEXPIRE', k, ttl) end
    local d = redis.call('HGET', 'hl:s:' .. id, 'd')
    if d then
      redis.call('LREM', 'hl:due:' .. d, 0, m)
      redis.call('RPUSH', 'hl:due:' .. d, id)
    end
    moved = moved + 1
  end
end
for _, k in ipairs(keys('hl:s:*')) do
  local c, tx, t = redis.call('HGET', k, 'c'), redis.call('HGET', k, 'tx'), tonumber(redis.call('HGET', k, 't'))
  local p = 'hl:t:' .. c .. ':' .. string.format('%d', math.floor(t / per))
  redis.call('HSET', p, tx, string.sub(k, 6))
  redis.call('EXPIREAT', p, (math.floor(t / per) + 1) * per + 400 * 86400)
end
for _, k in ipairs(keys('hl:i:*')) do redis.call('DEL', k) end
return moved
"""


def to_old_layout(st):
    """What the older version kept, made from what this one keeps."""
    r = st.redis
    for k in r("KEYS", "hl:c:*").split():
        m = k[len("hl:c:"):]
        a, last, ttl = r("HGET", k, "a"), r("HGET", k, "l"), int(r("TTL", k))
        if a:
            r("SET", "hl:active:" + m, a)
        if last:
            r("SET", "hl:last:" + m, last, "EX", str(ttl))
        r("DEL", k)
    for k in r("KEYS", "hl:t:*").split():
        camp = k.split(":")[2]
        fields = r("HGETALL", k).split()
        for tx, sid in zip(fields[0::2], fields[1::2]):
            r("SET", "hl:tx:%s:%s" % (camp, tx), sid, "EX", str(400 * 86400))
        r("DEL", k)
    for k in r("KEYS", "hl:due:*").split() + ["hl:dueb", "hl:ndue"]:
        r("DEL", k)
    for k in r("KEYS", "hl:s:*").split():
        d = r("HGET", k, "d")
        if d:
            r("ZADD", "hl:due", d, k[len("hl:s:"):])
            r("HDEL", k, "d")
        if r("HEXISTS", k, "st") == "0":
            r("HSET", k, "st", "active")
        for f in ("i", "r", "rs", "eq"):
            if r("HEXISTS", k, f) == "0":
                r("HSET", k, f, "0")


def run(layout):
    """layout: "previous" or "oldest" (see the top)."""
    with harness.Stack() as st:
        st.start_redis()
        st.start_sim(0, think="5")
        st.start_gateway()
        n = {k: "849130000%02d" % i for i, k in enumerate("ABC", start=1)}
        ids = {}
        for who in "AB":
            code, body = st.trigger(n[who], "UP-" + who)
            check(code == 202, f"trigger {who}: {code} {body}")
            ids[who] = body["survey_id"]

        def items(who):
            return [t for t in inbox(st, n[who]) if "Câu " in t]

        def answer(who, k, text):
            """Answers item k (1-based) once it has come, then waits for the next."""
            wait_for(lambda: len(items(who)) >= k, 10, f"{who}'s item {k}: {inbox(st, n[who])}")
            mo(st, n[who], text)

        # A answers two items, B one, before the old version "stops"
        answer("A", 1, "1")
        answer("A", 2, "2")
        answer("B", 1, "3")
        wait_for(lambda: len(items("A")) >= 3 and len(items("B")) >= 2, 10, "the next items")
        time.sleep(0.3)
        # C: a survey ended a moment ago, noted the old way
        now = int(time.time())
        st.redis("SET", "hl:last:" + n["C"], "%d:%d" % (now - 60, now - 30), "EX", "1000")
        st.stop("hailongd")
        check(st.redis("EVAL", TO_PREVIOUS, "0") == "2", "the previous layout was written")
        check(st.redis("HGET", "hl:s:" + ids["A"], "m") == n["A"] and st.redis("HGET", "hl:c:" + n["A"], "a") == ids["A"]
              and st.redis("HGET", "hl:t:default:%d" % (now // 2592000), "UP-A") == ids["A"]
              and st.redis("KEYS", "hl:i:*") == "", "the previous layout: " + st.redis("HGETALL", "hl:c:" + n["A"]))
        if layout == "oldest":
            to_old_layout(st)
            check(st.redis("EXISTS", "hl:active:" + n["A"]) == "1" and st.redis("EXISTS", "hl:tx:default:UP-A") == "1"
                  and st.redis("HGET", "hl:s:" + ids["A"], "st") == "active" and st.redis("ZCARD", "hl:due") == "2",
                  "the older layout was written")
        st.start_gateway()

        # a repeated trigger finds the survey through the older key
        code, body = st.trigger(n["A"], "UP-A")
        check(code == 200 and body.get("survey_id") == ids["A"], f"repeated trigger: {code} {body}")
        # a second survey of A, triggered now: it waits for the first
        code, body = st.trigger(n["A"], "UP-A2")
        check(code == 202, f"A's second trigger: {code} {body}")
        ids["A2"] = body["survey_id"]
        # the rest of the answers
        for k, v in ((3, "3"), (4, "4"), (5, "5"), (6, "0")):
            answer("A", k, v)
        for k, v in ((2, "1"), (3, "1"), (4, "1"), (5, "1"), (6, "rat tot")):
            answer("B", k, v)
        wait_for(lambda: harness.completed_surveys(st, "UP-%") == 2, 15, "both surveys archived completed")
        with sqlite3.connect(st.db, timeout=5) as c:
            got = {(sid, q): (v, t) for sid, q, v, t in
                   c.execute("select survey_id, question_id, value, text from answers")}
        want_a = {"access": 5, "procedure": 4, "officer": 3, "result": 2, "feedback": 1}
        for q, v in want_a.items():
            check(got.get((ids["A"], q), (None,))[0] == v, f"A's {q}: {got.get((ids['A'], q))}")
        check(got.get((ids["B"], "access"), (None,))[0] == 3, f"B's access: {got.get((ids['B'], 'access'))}")
        check(got.get((ids["B"], "comment"), (None, None))[1] == "rat tot", f"B's comment: {got}")
        # A's second survey started once the first ended, in this version's
        # layout: in the citizen's hash, no hl:s:{id} left
        wait_for(lambda: len(items("A")) >= 7, 10, f"A's second survey: {inbox(st, n['A'])}")
        check(st.redis("EXISTS", "hl:s:" + ids["A2"]) == "0" and st.redis("HGET", "hl:c:" + n["A"], "tx") == "UP-A2",
              f"A's second survey: {st.redis('HGETALL', 'hl:c:' + n['A'])}")
        # no item twice (the thanks once; A's last item is its second survey's first).
        # The thanks leave through the outbox while the archive pump writes
        # the rows waited for above: either may come first
        thanks = "cảm ơn Ông/Bà đã tham gia"
        wait_for(lambda: all(any(thanks in t for t in inbox(st, n[who])) for who in "AB"), 10, "A's and B's thanks")
        for who in "AB":
            box = inbox(st, n[who])
            mine = items(who)[:6]
            check(len(mine) == len(set(mine)) == 6 and sum(thanks in t for t in box) == 1
                  and len(items(who)) == (7 if who == "A" else 6), f"{who}'s inbox: {box}")
        # the old keys were folded into the citizen's hash; the end is noted
        # there (A's gave way to its second survey)
        for who in "AB":
            check(st.redis("EXISTS", "hl:active:" + n[who], "hl:last:" + n[who]) == "0", f"{who}'s old keys left")
        check(":" in st.redis("HGET", "hl:c:" + n["B"], "l"), "B's end noted")
        # the timers left the older zset as the surveys moved on, and ended with
        # them (but that of A's second survey, in the list of its second, by number)
        d = st.redis("HGET", "hl:c:" + n["A"], "d")
        check(st.redis("ZCARD", "hl:due") == "0" and st.redis("GET", "hl:ndue") == "1"
              and n["A"] in st.redis("LRANGE", "hl:due:" + d, "0", "-1").split(),
              f"timers left: {st.redis('ZRANGE', 'hl:due', '0', '-1')} ndue={st.redis('GET', 'hl:ndue')}")
        # C's end noted the old way: a late reply is acknowledged without the notice
        before = st.metrics().get("hailong_mo_after_end_total", 0)
        mo(st, n["C"], "1")
        wait_for(lambda: st.metrics().get("hailong_mo_after_end_total", 0) > before, 5, "C's late reply")
        time.sleep(0.5)
        check(inbox(st, n["C"]) == [], f"C got a notice: {inbox(st, n['C'])}")
        check(st.redis("EXISTS", "hl:last:" + n["C"]) == "0", "C's old key left")
    print(f"upgrade layout from the {layout} one: ok")


def main():
    for layout in ("previous", "oldest"):
        run(layout)


if __name__ == "__main__":
    main()
