package shared

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// gcraScript charges a GCRA key with the batched cost of a node's
// admissions (ARGV[1], microseconds of emission interval, negative for
// refunds) and returns how far the global TAT is ahead of Redis's clock
// (microseconds, 0 when idle). Redis's clock, not the nodes': a node adds
// the answer to its own now, so clock skew between nodes does not matter.
// Microseconds keep the sums exact in Lua's doubles.
var gcraScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
tat = tat + tonumber(ARGV[1])
if tat <= now then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)
return tat - now
`)

// windowScript adds ARGV[2] events to bucket ARGV[1] of a sliding window of
// ARGV[3] buckets kept in a hash (field: bucket number), drops the buckets
// that fell out, sets the expiry (ARGV[4] ms) and returns the window's
// count.
var windowScript = redis.NewScript(`
local b = tonumber(ARGV[1])
local nb = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) end
local all = redis.call('HGETALL', KEYS[1])
local sum = 0
for i = 1, #all, 2 do
  if tonumber(all[i]) <= b - nb then
    redis.call('HDEL', KEYS[1], all[i])
  else
    sum = sum + tonumber(all[i + 1])
  end
end
if #all > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return sum
`)

// distinctScript adds ARGV[2..] to the HyperLogLog KEYS[1] (one key a
// counter and wall-clock window), gives a new key its expiry (ARGV[1] ms)
// and returns the estimate: one command where PFADD, PEXPIRE and PFCOUNT
// were three.
var distinctScript = redis.NewScript(`
local new = redis.call('EXISTS', KEYS[1]) == 0
redis.call('PFADD', KEYS[1], unpack(ARGV, 2))
if new then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return redis.call('PFCOUNT', KEYS[1])
`)

// loadScripts loads the scripts (on every master of a cluster), so that
// pipelines can call them by hash.
func loadScripts(ctx context.Context, c redis.UniversalClient) error {
	for _, s := range []*redis.Script{gcraScript, windowScript, distinctScript} {
		if err := s.Load(ctx, c).Err(); err != nil {
			return err
		}
	}
	return nil
}
