-- wrk script: POST /v1/documents/{id}/delivery with a fresh execution_id on
-- every request (a per-thread counter), as a delivery executor would.
--
-- Configured through the environment (the orchestrator sets these):
--   BENCH_KEY           API key sent as a bearer token
--   BENCH_TAG           makes execution ids unique across runs on one server
--   BENCH_DOC           post every callback to this one document, or else
--   BENCH_DOC_PREFIX    rotate over documents PREFIX<OFFSET+1> .. PREFIX<OFFSET+COUNT>
--   BENCH_DOC_COUNT       (five-digit, zero-padded numbers)
--   BENCH_DOC_OFFSET
--   BENCH_MAX_REQUESTS  stop the thread after this many responses (0: run for -d)
--
-- Run it with one thread (-t1) so the counter covers every request.

local key = os.getenv("BENCH_KEY") or "sk_test_numora_mock_default"
local tag = os.getenv("BENCH_TAG") or "run"
local fixed = os.getenv("BENCH_DOC")
local prefix = os.getenv("BENCH_DOC_PREFIX") or "cb_"
local count = tonumber(os.getenv("BENCH_DOC_COUNT") or "1")
local offset = tonumber(os.getenv("BENCH_DOC_OFFSET") or "0")
local max_requests = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0")

local headers = {
  ["Authorization"] = "Bearer " .. key,
  ["Content-Type"] = "application/json",
}

local sent = 0
local received = 0

request = function()
  sent = sent + 1
  local doc = fixed
  if doc == nil or doc == "" then
    doc = string.format("%s%05d", prefix, offset + ((sent - 1) % count) + 1)
  end
  local body = string.format(
    '{"provider":"dynamics365","status":"succeeded","execution_id":"bench-%s-%d",'
      .. '"attempted_at":"2026-03-23T00:00:00.000Z","external_record_id":"rec-%d"}',
    tag, sent, sent)
  return wrk.format("POST", "/v1/documents/" .. doc .. "/delivery", headers, body)
end

response = function(status, hdrs, body)
  received = received + 1
  if max_requests > 0 and received >= max_requests then
    wrk.thread:stop()
  end
end
