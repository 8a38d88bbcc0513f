#include "herald/cluster/scripts.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "herald/cluster/live_message.hpp"

namespace herald::cluster {
namespace {

// Every script starts with the shebang: Redis 7 then refuses the whole script up front when it
// is out of memory (maxmemory with noeviction). Without it (the compatibility mode), only the
// first write that needs memory is refused, and not even that once an earlier write (a DEL of
// nothing will do) has run: a publish would carry on with maxmemory exceeded.
//
// What the scripts share. Lua 5.1 has one number type, a double: integers are written with
// int() (tostring would write 1e+15), and every number handed to redis.call is text.
constexpr std::string_view prelude = R"lua(#!lua
local function int(n)
  return string.format('%d', n)
end

-- Redis's clock, the same for every node. Safe in a script: Redis 7 replicates scripts by
-- their effects, so a replica never runs TIME itself.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Sets the key's expiry to at least ttl from now, never shorter than what another node set.
-- PEXPIRE's GT will not do: it leaves a key without any expiry (PTTL -1) as it is.
local function keep_alive(key, ttl)
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, int(ttl))
  end
end

-- A presence field is "count:expiry_ms": it counts while its node is alive, and until its
-- node stops refreshing it (long after: the node list says first that a node is dead).
local function live_count(value, now)
  local count, expiry = string.match(value or '', '^(%d+):(%d+)$')
  if count and tonumber(expiry) > now then
    return tonumber(count)
  end
  return 0
end

-- The set of node names in `text`, one per line: the caller's list of dead nodes. A Lua
-- script in a Redis Cluster may only touch its user's slot, so the node list (another key)
-- comes from the caller's last heartbeat rather than from Redis.
local function node_set(text)
  local set = {}
  for node in string.gmatch(text, '[^\n]+') do
    set[node] = true
  end
  return set
end

-- The connections of a user on live nodes. Expired fields go on the way; a dead node's field
-- stays until it expires, in case the node was only taken for dead and comes back.
local function live_presence(key, now, dead)
  local fields = redis.call('HGETALL', key)
  local sum = 0
  for i = 1, #fields, 2 do
    local count = live_count(fields[i + 1], now)
    if count == 0 then
      redis.call('HDEL', key, fields[i])
    elseif not dead[fields[i]] then
      sum = sum + count
    end
  end
  return sum
end

-- This node's count of the user's connections, valid for ttl; 0 takes the field out.
local function set_count(key, node, count, now, ttl)
  if count > 0 then
    redis.call('HSET', key, node, int(count) .. ':' .. int(now + ttl))
    keep_alive(key, ttl)
  else
    redis.call('HDEL', key, node)
  end
end

-- The user's epoch and last seq. A new epoch (the node's random candidate) when the meta is
-- missing or was written under another run of Redis, whose data may have been lost since: a
-- restart without persistence, a failover to a replica that lagged behind. Under one epoch a
-- seq is never given twice. The stream of an older epoch goes: its ids would not grow.
local function stream_state(meta, stream, latest, run, candidate)
  local state = redis.call('HMGET', meta, 'epoch', 'seq', 'run')
  if state[1] and state[3] == run then
    return state[1], tonumber(state[2]) or 0
  end
  redis.call('DEL', stream, latest)
  redis.call('HSET', meta, 'epoch', candidate, 'seq', '0', 'run', run, 'e', '0')
  return candidate, 0
end

-- The meta's `e`: the last seq taken out of the stream by its count or its age (not by a
-- newer message with its key). Whatever is after it was either kept or collapsed: a resume
-- from there misses nothing that mattered.
local function note_evicted(meta, id)
  redis.call('HSET', meta, 'e', string.match(id, '^(%d+)'))
end

local function field(values, name)
  for i = 1, #values, 2 do
    if values[i] == name then
      return values[i + 1]
    end
  end
  return nil
end

-- Deletes the entries older than cutoff from the head of the stream (entries are in time
-- order), noting the last as evicted, and returns the id of the first one kept, nil when none
-- is. Usually one look at one entry; at most the whole stream, which MAXLEN bounds.
local function trim_old(meta, stream, cutoff)
  local count = 1
  while true do
    local head = redis.call('XRANGE', stream, '-', '+', 'COUNT', count)
    if #head == 0 then
      return nil
    end
    for i = 1, #head do
      if (tonumber(field(head[i][2], 't')) or 0) >= cutoff then
        if i > 1 then
          redis.call('XTRIM', stream, 'MINID', head[i][1])
          note_evicted(meta, head[i - 1][1])
        end
        return head[i][1]
      end
    end
    local ms, sequence = string.match(head[#head][1], '^(%d+)%-(%d+)$')
    redis.call('XTRIM', stream, 'MINID', ms .. '-' .. int(tonumber(sequence) + 1))
    note_evicted(meta, head[#head][1])
    count = 16
  end
end
)lua";

constexpr std::string_view publish_body = R"lua(
local meta, stream, presence, latest, seen_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local run, candidate = ARGV[1], ARGV[2]
local size, ttl, seen_ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local kind, data, channel, key = ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local dead = ARGV[10]

-- A retry of a publish already made: its outcome again, and nothing published.
if seen_key then
  local seen = redis.call('GET', seen_key)
  if seen then
    local epoch, seq, delivered = string.match(seen, '^([^:]+):(%d+):(%d+)$')
    if epoch then
      return {epoch, tonumber(seq), tonumber(delivered), 1}
    end
  end
end

local now = now_ms()
local epoch, seq = stream_state(meta, stream, latest, run, candidate)
seq = redis.call('HINCRBY', meta, 'seq', 1)
local seq_text, now_text = int(seq), int(now)
if size > 0 then
  -- Latest wins: the kept message with the same key is obsolete.
  if key ~= '' then
    local older = redis.call('HGET', latest, key)
    if older then
      redis.call('XDEL', stream, older .. '-0')
    end
    redis.call('HSET', latest, key, seq_text)
    redis.call('PEXPIRE', latest, int(ttl))
  end
  -- An exact MAXLEN: the count kept is what a resume may rely on. The entry it pushes out is
  -- noted as evicted.
  if redis.call('XLEN', stream) >= size then
    local oldest = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)
    note_evicted(meta, oldest[1][1])
  end
  if key ~= '' then
    redis.call('XADD', stream, 'MAXLEN', int(size), seq_text .. '-0',
               't', now_text, 'k', kind, 'd', data, 'K', key)
  else
    redis.call('XADD', stream, 'MAXLEN', int(size), seq_text .. '-0',
               't', now_text, 'k', kind, 'd', data)
  end
  trim_old(meta, stream, now - ttl)
  redis.call('PEXPIRE', stream, int(ttl))
else
  redis.call('HSET', meta, 'e', seq_text)  -- nothing is kept
end
-- At least as long as the stream: a stream without its meta would go with a new epoch.
keep_alive(meta, ttl)
local delivered = live_presence(presence, now, node_set(dead))
redis.call('PUBLISH', channel, payload_version .. '\n' .. epoch .. '\n' .. seq_text .. '\n' ..
           now_text .. '\n' .. kind .. '\n' .. key .. '\n' .. data)
if seen_key then
  redis.call('SET', seen_key, epoch .. ':' .. seq_text .. ':' .. int(delivered), 'PX', seen_ttl)
end
return {epoch, seq, delivered, 0}
)lua";

constexpr std::string_view read_body = R"lua(
local meta, stream, presence, latest = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local run, candidate = ARGV[1], ARGV[2]
local size, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
local mode, since_epoch, since_seq = ARGV[5], ARGV[6], ARGV[7]
local delta, node, presence_ttl = tonumber(ARGV[8]), ARGV[9], tonumber(ARGV[10])

local now = now_ms()
-- Made if missing: a read never answers with an epoch that the next publish would replace.
local epoch, seq = stream_state(meta, stream, latest, run, candidate)
keep_alive(meta, ttl)
if delta ~= 0 then
  local count = live_count(redis.call('HGET', presence, node), now) + delta
  set_count(presence, node, math.max(count, 0), now, presence_ttl)
end
local first = nil
if size > 0 then
  first = trim_old(meta, stream, now - ttl)
end
-- A stream that is gone while its meta stays (it expired whole) lost all it had.
local evicted = tonumber(redis.call('HGET', meta, 'e')) or 0
if not first then
  evicted = seq
end
if mode == '0' or not first then
  return {epoch, seq, evicted, {}}
end
local after = since_seq
if mode == '2' and since_epoch ~= epoch then
  after = '0'
end
local entries = {}
-- Nothing is after a seq beyond the stream's, and such a seq (a client's own) may be no id that
-- XRANGE takes: only the stream's own range is read.
if tonumber(after) < seq then
  entries = redis.call('XRANGE', stream, '(' .. after .. '-0', '+', 'COUNT', int(size))
end
return {epoch, seq, evicted, entries}
)lua";

constexpr std::string_view set_presence_body = R"lua(
local count = tonumber(ARGV[2])
set_count(KEYS[1], ARGV[1], count, now_ms(), tonumber(ARGV[3]))
-- While a node has connections of the user, its epoch and seq stay: a client that comes back
-- finds its stream as it left it.
if count > 0 then
  keep_alive(KEYS[2], tonumber(ARGV[4]))
end
return 1
)lua";

constexpr std::string_view presence_body = R"lua(
return live_presence(KEYS[1], now_ms(), node_set(ARGV[1]))
)lua";

constexpr std::string_view heartbeat_body = R"lua(
local node, node_ttl, kept = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local last = tonumber(redis.call('ZSCORE', KEYS[1], node))
local revived = 0
if not last or last < now - node_ttl then
  revived = 1
end
redis.call('ZADD', KEYS[1], int(now), node)
-- A dead node stays listed as long as its presence counts may stay in users' hashes.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. int(now - kept))
keep_alive(KEYS[1], kept)
local limit = '(' .. int(now - node_ttl)
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', limit)
local alive = redis.call('ZCOUNT', KEYS[1], limit:sub(2), '+inf')
return {alive, revived, dead}
)lua";

constexpr std::string_view ack_body = R"lua(
local seq = tonumber(ARGV[1])
local state = redis.call('HMGET', KEYS[1], 'seq', 'a')
local last = tonumber(state[1])
if not last or seq > last or seq <= (tonumber(state[2]) or 0) then
  return 0
end
redis.call('HSET', KEYS[1], 'a', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PUBLISH', ARGV[3], ARGV[1] .. '\n' .. ARGV[2])
end
return 1
)lua";

// The marker first, then the acknowledged seq: an ack after this step is announced, one before
// it is in the answer.
constexpr std::string_view wait_for_ack_body = R"lua(
local ttl = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('SET', KEYS[2], '1', 'PX', ttl)
end
return tonumber(redis.call('HGET', KEYS[1], 'a')) or 0
)lua";

std::string sha1_hex(std::string_view text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("SHA-1 is not available");
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    for (unsigned int i = 0; i < size; ++i) {
        hex.push_back(digits[digest[i] >> 4]);
        hex.push_back(digits[digest[i] & 0xf]);
    }
    return hex;
}

Script make(std::string_view name, std::string_view body) {
    Script made{name, std::string(prelude), {}};
    // The payload's version comes from the codec that reads it, so the two cannot drift.
    made.text.append("local payload_version = '").append(live_message_version).append("'\n");
    made.text.append(body);
    made.sha1 = sha1_hex(made.text);
    return made;
}

}  // namespace

const Script& script(ScriptId id) {
    // In ScriptId's order; built once, on first use (thread-safe, as any static local).
    static const std::array<Script, script_count> scripts{
        make("publish", publish_body),           make("read", read_body),
        make("set_presence", set_presence_body), make("presence", presence_body),
        make("heartbeat", heartbeat_body),       make("ack", ack_body),
        make("wait_for_ack", wait_for_ack_body),
    };
    return scripts[static_cast<std::size_t>(id)];
}

}  // namespace herald::cluster
