-- Wireshark dissector for framewire protocol version 1 (spec/PROTOCOL.md).
--
-- Usage:  wireshark -X lua_script:spec/wireshark/framewire.lua
--         tshark -X lua_script:spec/wireshark/framewire.lua -r capture.pcap -V
-- or copy it into your personal plugins folder. The TCP port is a preference
-- (Protocols > FRAMEWIRE > TCP port, default 7070); "Decode As…" works too.
--
-- Every frame is a 20-byte big-endian header (length, type, flags, reserved,
-- stream, seq, crc) plus `length` payload bytes. Frames are reassembled across
-- TCP segments with dissect_tcp_pdus. The CRC-32 (IEEE, over header bytes 0..15
-- then the payload) is verified and shown as good/bad. Control payloads
-- (HELLO, OPEN, ERROR, GOAWAY, DONE trailers, CANCEL) are MessagePack maps,
-- decoded by a small MessagePack reader below; CREDIT, ACK and PING have fixed
-- binary payloads; DATA is opaque, except with the PACKED flag (spec §8.2.6),
-- whose payload is split into its records (u32 length + bytes, one message each)
-- and flagged when they do not fill it exactly.

local bit = bit32 or bit -- Lua 5.2 (Wireshark < 4.4) has bit32; LuaJIT builds have BitOp
local band, bor, bxor, rshift, lshift, bnot = bit.band, bit.bor, bit.bxor, bit.rshift, bit.lshift, bit.bnot

local HEADER = 20

local fw = Proto("framewire", "framewire protocol")

local type_names = {
  [0x01] = "HELLO", [0x02] = "OPEN", [0x03] = "DATA", [0x04] = "CREDIT", [0x05] = "ACK",
  [0x06] = "DONE", [0x07] = "ERROR", [0x08] = "CANCEL", [0x09] = "PING", [0x0a] = "GOAWAY",
}

local error_names = {
  [0x00] = "NO_ERROR", [0x01] = "PROTOCOL_ERROR", [0x02] = "FRAME_SIZE", [0x03] = "BAD_CRC",
  [0x04] = "RESERVED_BITS", [0x05] = "WRONG_STREAM_KIND", [0x06] = "MALFORMED_PAYLOAD",
  [0x07] = "UNSUPPORTED_VERSION", [0x08] = "HANDSHAKE", [0x09] = "AUTH_FAILED", [0x0a] = "FLOW_CONTROL",
  [0x0b] = "SEQ_ERROR", [0x0c] = "STREAM_ID", [0x0d] = "STREAM_CLOSED", [0x0e] = "REFUSED_STREAM",
  [0x0f] = "CANCELLED", [0x10] = "IDLE_TIMEOUT", [0x11] = "CONNECTION_LOST", [0x12] = "INTERNAL",
  [0x13] = "ENHANCE_YOUR_CALM", [0x14] = "MESSAGE_TOO_LARGE", [0x15] = "TIMEOUT", [0x16] = "NOT_FOUND",
  [0x17] = "LIMIT_EXCEEDED", [0x18] = "FORBIDDEN", [0x19] = "CLOSED", [0x1a] = "TRUNCATED", [0x1b] = "INVALID_ARGUMENT",
  [0x100] = "UPLOAD_NOT_FOUND", [0x101] = "CHUNK_CONFLICT", [0x102] = "CHUNK_CHECKSUM",
  [0x103] = "DIGEST_MISMATCH", [0x104] = "INCOMPLETE", [0x105] = "EXPIRED", [0x106] = "LEASE_CONFLICT",
  [0x107] = "BAD_RANGE", [0x108] = "ABORTED", [0x109] = "IDEMPOTENCY_CONFLICT", [0x10A] = "ALREADY_COMMITTED",
  [0x200] = "RESUME_GAP", [0x201] = "NOT_RESUMABLE", [0x202] = "PRODUCER_FAILED",
}

local f = {
  length = ProtoField.uint32("framewire.length", "Length", base.DEC),
  type = ProtoField.uint8("framewire.type", "Type", base.HEX, type_names),
  type_name = ProtoField.string("framewire.type_name", "Type name"),
  flags = ProtoField.uint8("framewire.flags", "Flags", base.HEX),
  follows = ProtoField.bool("framewire.flags.follows", "FOLLOWS", 8, nil, 0x01),
  packed = ProtoField.bool("framewire.flags.packed", "PACKED", 8, nil, 0x02),
  ping_ack = ProtoField.bool("framewire.flags.ack", "ACK", 8, nil, 0x01),
  reserved = ProtoField.uint16("framewire.reserved", "Reserved", base.HEX),
  stream = ProtoField.uint32("framewire.stream", "Stream", base.DEC),
  seq = ProtoField.uint32("framewire.seq", "Seq", base.DEC),
  crc = ProtoField.uint32("framewire.crc", "CRC-32", base.HEX),
  crc_status = ProtoField.string("framewire.crc.status", "CRC status"),
  crc_computed = ProtoField.uint32("framewire.crc.computed", "Computed CRC-32", base.HEX),
  payload = ProtoField.bytes("framewire.payload", "Payload"),
  data_len = ProtoField.uint32("framewire.data.length", "DATA bytes", base.DEC),
  records = ProtoField.uint32("framewire.data.records", "Packed records", base.DEC),
  record_len = ProtoField.uint32("framewire.data.record.length", "Record length", base.DEC),
  record = ProtoField.bytes("framewire.data.record", "Record"),
  credit = ProtoField.uint64("framewire.credit.offset", "Credit offset", base.DEC),
  ack = ProtoField.uint32("framewire.ack.seq", "Acknowledged seq", base.DEC),
  ping = ProtoField.bytes("framewire.ping.data", "PING data"),
  error_code = ProtoField.uint32("framewire.error.code", "Error code", base.HEX, error_names),
  error_message = ProtoField.string("framewire.error.message", "Error message"),
  kind = ProtoField.string("framewire.open.kind", "Kind"),
  target = ProtoField.string("framewire.open.target", "Target"),
  version = ProtoField.uint32("framewire.hello.version", "Version", base.DEC),
  agent = ProtoField.string("framewire.hello.agent", "Agent"),
  last_stream = ProtoField.uint32("framewire.goaway.last_stream", "Last stream", base.DEC),
  entry = ProtoField.string("framewire.ctrl", "Control entry"),
  ctrl_error = ProtoField.string("framewire.ctrl.error", "Control payload error"),
}
fw.fields = { f.length, f.type, f.type_name, f.flags, f.follows, f.packed, f.ping_ack, f.reserved, f.stream, f.seq,
  f.crc, f.crc_status, f.crc_computed, f.payload, f.data_len, f.records, f.record_len, f.record, f.credit, f.ack, f.ping, f.error_code,
  f.error_message, f.kind, f.target, f.version, f.agent, f.last_stream, f.entry, f.ctrl_error }

local ef_bad_crc = ProtoExpert.new("framewire.crc.bad", "CRC-32 mismatch", expert.group.CHECKSUM, expert.severity.ERROR)
local ef_reserved = ProtoExpert.new("framewire.reserved.nonzero", "Reserved bytes are not zero", expert.group.MALFORMED, expert.severity.ERROR)
local ef_packed = ProtoExpert.new("framewire.data.packed.bad", "Malformed PACKED DATA", expert.group.MALFORMED, expert.severity.ERROR)
fw.experts = { ef_bad_crc, ef_reserved, ef_packed }

fw.prefs.port = Pref.uint("TCP port", 7070, "TCP port on which framewire is decoded")

---------------------------------------------------------------------------------------------------
-- CRC-32 (IEEE 802.3 / zlib), table driven.

local crc_table = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do
    if band(c, 1) == 1 then c = bxor(rshift(c, 1), 0xEDB88320) else c = rshift(c, 1) end
  end
  crc_table[i] = c
end

local function crc32(bytes, crc)
  crc = bnot(crc or 0)
  for i = 0, bytes:len() - 1 do
    crc = bxor(rshift(crc, 8), crc_table[band(bxor(crc, bytes:get_index(i)), 0xff)])
  end
  return band(bnot(crc), 0xffffffff)
end

---------------------------------------------------------------------------------------------------
-- A minimal MessagePack reader: nil, bool, ints, floats, str, bin, array, map (ext shown as such).
-- Returns value, next offset; values: Lua scalars, strings, {map = {{k, v}, …}} or {array = {…}}.

local function u(bytes, at, n)
  local v = 0
  for i = 0, n - 1 do v = v * 256 + bytes:get_index(at + i) end
  return v
end

local function s(bytes, at, n)
  local v = u(bytes, at, n)
  local limit = 2 ^ (8 * n - 1)
  if v >= limit then v = v - 2 * limit end
  return v
end

local function str(bytes, at, n)
  return bytes:subset(at, n):raw(), at + n
end

local decode -- forward

local function collection(bytes, at, count, is_map, depth)
  local out = {}
  for _ = 1, count do
    if is_map then
      local k, v
      k, at = decode(bytes, at, depth + 1)
      v, at = decode(bytes, at, depth + 1)
      out[#out + 1] = { k, v }
    else
      local v
      v, at = decode(bytes, at, depth + 1)
      out[#out + 1] = v
    end
  end
  if is_map then return { map = out }, at end
  return { array = out }, at
end

decode = function(bytes, at, depth)
  if depth > 32 then error("nesting too deep") end
  if at >= bytes:len() then error("payload ends inside a value") end
  local b = bytes:get_index(at)
  if b <= 0x7f then return b, at + 1 end
  if b >= 0xe0 then return b - 256, at + 1 end
  if b >= 0x80 and b <= 0x8f then return collection(bytes, at + 1, b - 0x80, true, depth) end
  if b >= 0x90 and b <= 0x9f then return collection(bytes, at + 1, b - 0x90, false, depth) end
  if b >= 0xa0 and b <= 0xbf then return str(bytes, at + 1, b - 0xa0) end
  if b == 0xc0 then return "nil", at + 1 end
  if b == 0xc2 then return false, at + 1 end
  if b == 0xc3 then return true, at + 1 end
  if b == 0xc4 then return { bin = u(bytes, at + 1, 1) }, at + 2 + u(bytes, at + 1, 1) end
  if b == 0xc5 then return { bin = u(bytes, at + 1, 2) }, at + 3 + u(bytes, at + 1, 2) end
  if b == 0xc6 then return { bin = u(bytes, at + 1, 4) }, at + 5 + u(bytes, at + 1, 4) end
  if b == 0xca then return "float32", at + 5 end
  if b == 0xcb then return "float64", at + 9 end
  if b == 0xcc then return u(bytes, at + 1, 1), at + 2 end
  if b == 0xcd then return u(bytes, at + 1, 2), at + 3 end
  if b == 0xce then return u(bytes, at + 1, 4), at + 5 end
  if b == 0xcf then return u(bytes, at + 1, 8), at + 9 end
  if b == 0xd0 then return s(bytes, at + 1, 1), at + 2 end
  if b == 0xd1 then return s(bytes, at + 1, 2), at + 3 end
  if b == 0xd2 then return s(bytes, at + 1, 4), at + 5 end
  if b == 0xd3 then return s(bytes, at + 1, 8), at + 9 end
  if b == 0xd9 then return str(bytes, at + 2, u(bytes, at + 1, 1)) end
  if b == 0xda then return str(bytes, at + 3, u(bytes, at + 1, 2)) end
  if b == 0xdb then return str(bytes, at + 5, u(bytes, at + 1, 4)) end
  if b == 0xdc then return collection(bytes, at + 3, u(bytes, at + 1, 2), false, depth) end
  if b == 0xdd then return collection(bytes, at + 5, u(bytes, at + 1, 4), false, depth) end
  if b == 0xde then return collection(bytes, at + 3, u(bytes, at + 1, 2), true, depth) end
  if b == 0xdf then return collection(bytes, at + 5, u(bytes, at + 1, 4), true, depth) end
  local fixext = { [0xd4] = 1, [0xd5] = 2, [0xd6] = 4, [0xd7] = 8, [0xd8] = 16 }
  if fixext[b] then return "ext", at + 2 + fixext[b] end
  if b == 0xc7 then return "ext", at + 3 + u(bytes, at + 1, 1) end
  if b == 0xc8 then return "ext", at + 4 + u(bytes, at + 1, 2) end
  if b == 0xc9 then return "ext", at + 6 + u(bytes, at + 1, 4) end
  error(string.format("invalid MessagePack byte 0x%02x", b))
end

local function show(v)
  if type(v) == "table" then
    if v.bin then return string.format("<%d bytes>", v.bin) end
    if v.array then
      local parts = {}
      for i, x in ipairs(v.array) do
        if i > 16 then parts[#parts + 1] = "…"; break end
        parts[#parts + 1] = show(x)
      end
      return "[" .. table.concat(parts, ", ") .. "]"
    end
    if v.map then
      local parts = {}
      for i, kv in ipairs(v.map) do
        if i > 16 then parts[#parts + 1] = "…"; break end
        parts[#parts + 1] = tostring(show(kv[1])) .. ": " .. show(kv[2])
      end
      return "{" .. table.concat(parts, ", ") .. "}"
    end
  end
  if type(v) == "string" then return '"' .. v .. '"' end
  return tostring(v)
end

local function get(map, key)
  for _, kv in ipairs(map) do
    if kv[1] == key then return kv[2] end
  end
  return nil
end

---------------------------------------------------------------------------------------------------

local function control(ptype, payload_tvb, tree, pinfo)
  local bytes = payload_tvb:bytes()
  local ok, value, at = pcall(decode, bytes, 0, 0)
  if not ok then
    tree:add(f.ctrl_error, payload_tvb(), tostring(value))
    return ""
  end
  if type(value) ~= "table" or not value.map then
    tree:add(f.ctrl_error, payload_tvb(), "not a map")
    return ""
  end
  if at ~= bytes:len() then tree:add(f.ctrl_error, payload_tvb(), "bytes after the map") end
  local map = value.map
  local sub = tree:add(fw, payload_tvb(), "Control payload: " .. show(value))
  for _, kv in ipairs(map) do sub:add(f.entry, payload_tvb(), tostring(kv[1]) .. " = " .. show(kv[2])) end
  local summary = ""
  if ptype == 0x01 then
    local versions = get(map, "versions")
    if type(versions) == "table" and versions.array then
      for _, v in ipairs(versions.array) do if type(v) == "number" then sub:add(f.version, payload_tvb(), v) end end
    end
    local agent = get(map, "agent")
    if type(agent) == "string" then sub:add(f.agent, payload_tvb(), agent) end
    summary = " versions=" .. show(versions)
  elseif ptype == 0x02 then
    local kind = get(map, "kind")
    if type(kind) == "string" then sub:add(f.kind, payload_tvb(), kind); summary = " kind=" .. kind end
    local target = get(map, "target")
    if type(target) == "string" then sub:add(f.target, payload_tvb(), target) end
  elseif ptype == 0x07 or ptype == 0x08 or ptype == 0x0a then
    local code = get(map, "code")
    if type(code) == "number" then
      sub:add(f.error_code, payload_tvb(), code)
      summary = " " .. (error_names[code] or string.format("0x%x", code))
    end
    local message = get(map, "message") or get(map, "reason")
    if type(message) == "string" then sub:add(f.error_message, payload_tvb(), message) end
    local last = get(map, "last_stream")
    if type(last) == "number" then sub:add(f.last_stream, payload_tvb(), last) end
  end
  return summary
end

-- §8.2.6: the payload of a PACKED DATA frame is one or more records, each a u32 length n and n
-- bytes, that fill it exactly (FW-PACK-2). Returns the text for the Info column.
local function packed_records(p, length, tree, flags_item)
  if length == 0 then
    flags_item:add_proto_expert_info(ef_packed, "PACKED DATA with an empty payload")
    return " PACKED empty [MALFORMED]"
  end
  local sub = tree:add(fw, p, "PACKED payload")
  local at, n = 0, 0
  while at < length do
    local left = length - at
    if left < 4 then
      sub:add_proto_expert_info(ef_packed, string.format("%d byte(s) left over after %d record(s), too few for a length", left, n))
      return string.format(" PACKED %d records [MALFORMED]", n)
    end
    local rlen = p(at, 4):uint()
    if rlen > left - 4 then
      local item = sub:add(f.record_len, p(at, 4))
      item:add_proto_expert_info(ef_packed, string.format("record %d says %d bytes, only %d follow", n, rlen, left - 4))
      return string.format(" PACKED %d records [MALFORMED]", n)
    end
    local rt = sub:add(fw, p(at, 4 + rlen), string.format("Record %d: %d bytes", n, rlen))
    rt:add(f.record_len, p(at, 4))
    if rlen > 0 then rt:add(f.record, p(at + 4, rlen)) end
    at = at + 4 + rlen
    n = n + 1
  end
  sub:add(f.records, p, n)
  return string.format(" PACKED %d records", n)
end

local function dissect_frame(tvb, pinfo, tree)
  local length = tvb(0, 4):uint()
  local ptype = tvb(4, 1):uint()
  local flags = tvb(5, 1):uint()
  local stream = tvb(8, 4):uint()
  local seq = tvb(12, 4):uint()
  local name = type_names[ptype] or string.format("UNKNOWN(0x%02x)", ptype)

  local t = tree:add(fw, tvb(0, HEADER + length), string.format("framewire %s, stream %d, seq %d, %d bytes", name, stream, seq, length))
  t:add(f.length, tvb(0, 4))
  t:add(f.type, tvb(4, 1))
  t:add(f.type_name, tvb(4, 1), name)
  local ft = t:add(f.flags, tvb(5, 1))
  if ptype == 0x03 then
    ft:add(f.follows, tvb(5, 1))
    ft:add(f.packed, tvb(5, 1))
    if band(flags, 3) == 3 then ft:add_proto_expert_info(ef_packed, "PACKED with FOLLOWS set") end
  end
  if ptype == 0x09 then ft:add(f.ping_ack, tvb(5, 1)) end
  local rt = t:add(f.reserved, tvb(6, 2))
  if tvb(6, 2):uint() ~= 0 then rt:add_proto_expert_info(ef_reserved) end
  t:add(f.stream, tvb(8, 4))
  t:add(f.seq, tvb(12, 4))

  local expected = tvb(16, 4):uint()
  -- Keep the ByteArrays in locals: a temporary passed straight into crc32 gave wrong sums in
  -- Wireshark 4.0 (it appears to be collected while still being read).
  local header_bytes = tvb(0, 16):bytes()
  local computed = crc32(header_bytes)
  if length > 0 then
    local payload_bytes = tvb(HEADER, length):bytes()
    computed = crc32(payload_bytes, computed)
  end
  local ct = t:add(f.crc, tvb(16, 4))
  if computed == expected then
    ct:add(f.crc_status, tvb(16, 4), "good")
  else
    ct:add(f.crc_status, tvb(16, 4), "bad")
    ct:add(f.crc_computed, tvb(16, 4), computed)
    ct:add_proto_expert_info(ef_bad_crc)
  end

  local info = string.format("%s s=%d seq=%d", name, stream, seq)
  if ptype == 0x09 and band(flags, 1) == 1 then info = info .. " ACK" end
  if ptype == 0x03 and band(flags, 1) == 1 then info = info .. " FOLLOWS" end
  if length > 0 then
    local p = tvb(HEADER, length)
    t:add(f.payload, p)
    if ptype == 0x03 then
      t:add(f.data_len, p, length)
      info = info .. string.format(" len=%d", length)
      if band(flags, 2) == 2 then
        local text = packed_records(p, length, t, ft)
        if band(flags, 1) == 1 and not text:find("MALFORMED", 1, true) then text = text .. " [MALFORMED]" end
        info = info .. text
      end
    elseif ptype == 0x04 and length == 8 then
      t:add(f.credit, p)
      info = info .. " offset=" .. tostring(p:uint64())
    elseif ptype == 0x05 and length == 4 then
      t:add(f.ack, p)
    elseif ptype == 0x09 and length == 8 then
      t:add(f.ping, p)
    elseif type_names[ptype] then
      info = info .. control(ptype, p, t, pinfo)
    end
  end
  if ptype == 0x03 and band(flags, 2) == 2 and length == 0 then info = info .. packed_records(nil, 0, t, ft) end
  if computed ~= expected then info = info .. " [BAD CRC]" end
  return info
end

local function pdu_length(tvb, pinfo, offset)
  return HEADER + tvb(offset, 4):uint()
end

local function dissect_pdu(tvb, pinfo, tree)
  pinfo.cols.protocol = "framewire"
  local info = dissect_frame(tvb, pinfo, tree)
  local previous = tostring(pinfo.cols.info)
  if previous:find("^framewire: ") then
    pinfo.cols.info:append(" | " .. info)
  else
    pinfo.cols.info:set("framewire: " .. info)
  end
  return tvb:len()
end

function fw.dissector(tvb, pinfo, tree)
  dissect_tcp_pdus(tvb, tree, HEADER, pdu_length, dissect_pdu, true)
  return tvb:len()
end

local registered_port = nil
local function register_port()
  local tcp = DissectorTable.get("tcp.port")
  if registered_port then tcp:remove(registered_port, fw) end
  registered_port = fw.prefs.port
  tcp:add(registered_port, fw)
end

function fw.prefs_changed()
  if registered_port ~= fw.prefs.port then register_port() end
end

register_port()
