-- wrk script of bench/app.sh (bench/cmd/appbench): one request, or two in turn, described by
-- environment variables so one committed script serves every scenario and server.
--
--   APP_METHOD, APP_PATH, APP_BODY       the request (APP_BODY empty: no body)
--   APP_HEADERS                          "Name: value" lines separated by newlines
--   APP_ALT_METHOD, APP_ALT_PATH,        when APP_ALT_PATH is set, requests alternate between
--   APP_ALT_HEADERS                      the first and this one (a POST and its redirect's GET)
--   APP_ROTATE=N                         N requests in turn, "{i}" in the body and headers
--                                        replaced by 1..N (one user and client address each)
--
-- Each wrk thread runs this file in its own Lua state; the alternation is per thread.

local function headers(s)
  local t = {}
  for line in string.gmatch(s or "", "[^\n]+") do
    local k, v = string.match(line, "^([^:]+):%s*(.*)$")
    if k then t[k] = v end
  end
  return t
end

local function nonempty(s)
  if s == nil or s == "" then return nil end
  return s
end

wrk.method = os.getenv("APP_METHOD") or "GET"
wrk.path = os.getenv("APP_PATH") or "/"
wrk.body = nonempty(os.getenv("APP_BODY"))
wrk.headers = headers(os.getenv("APP_HEADERS"))

local rotate = tonumber(os.getenv("APP_ROTATE") or "")

if rotate and rotate > 0 then
  local reqs = {}
  local i = 0
  function init(args)
    for k = 1, rotate do
      local h = {}
      for name, v in pairs(wrk.headers) do h[name] = string.gsub(v, "{i}", tostring(k)) end
      local body = wrk.body and string.gsub(wrk.body, "{i}", tostring(k))
      reqs[k] = wrk.format(wrk.method, wrk.path, h, body)
    end
    -- Threads start at different places in the turn, so they do not send the same one at once.
    i = tonumber(string.match(tostring({}), "0x(%x+)") or "0", 16) % rotate
  end
  function request()
    i = i + 1
    return reqs[(i - 1) % rotate + 1]
  end
elseif nonempty(os.getenv("APP_ALT_PATH")) then
  local reqs = {}
  local i = 0
  function init(args)
    reqs[1] = wrk.format(wrk.method, wrk.path, wrk.headers, wrk.body)
    reqs[2] = wrk.format(os.getenv("APP_ALT_METHOD") or "GET", os.getenv("APP_ALT_PATH"),
      headers(os.getenv("APP_ALT_HEADERS")), nil)
  end
  function request()
    i = i + 1
    return reqs[(i - 1) % 2 + 1]
  end
end
