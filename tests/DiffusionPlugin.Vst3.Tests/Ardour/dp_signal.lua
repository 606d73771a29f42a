ardour { ["type"] = "dsp", name = "DP Test Signal", category = "Utility", license = "MIT", author = "DiffusionPlugin tests",
         description = [[Writes deterministic noise, a function of the timeline sample, while the transport rolls (test fixture).]] }

function dsp_ioconfig () return { { audio_in = 1, audio_out = 1 } } end

-- x(n) for timeline sample n: a 32-bit integer hash mapped to [-0.25, 0.25). ArdourHostTests computes the same.
local function noise (n)
  local h = (n * 2654435761) & 0xFFFFFFFF
  h = ((h ~ (h >> 15)) * 2246822519) & 0xFFFFFFFF
  h = h ~ (h >> 13)
  return (h / 4294967296.0 - 0.5) * 0.5
end

function dsp_run (ins, outs, n_samples)
  -- Fill a Lua table and hand it over with set_table, as Ardour's own generators do (no raw buffer indexing).
  local a = {}
  if Session:transport_rolling () then
    local start = Session:transport_sample ()
    for i = 1, n_samples do a[i] = noise (start + i - 1) end
  else
    for i = 1, n_samples do a[i] = 0 end
  end
  outs[1]:set_table (a, n_samples)
end
