-- Renders one Ardour test file headless (luasession, Dummy backend) into $DP_OUT: $DP_PART = "drums" or "widener".
local out = os.getenv ("DP_OUT")
local part = os.getenv ("DP_PART")
local done = false
local frames = 216000
assert (AudioEngine:set_backend ("None (Dummy)", "", ""), "no Dummy backend")

local function export (s, name)
  s:save_state ("")
  local e = s:simple_export ()
  e:set_name (name)
  assert (e:set_preset ("5f3c8a12-6b0e-4d7e-9a41-2c7d1e0b9f63"), "export preset not found")
  e:set_folder (out)
  e:set_range (0, frames)
  assert (e:run_export (), "export of " .. name .. " failed")
  print ("exported " .. name)
end

-- Diffusion Drums on a MIDI track (strict I/O off), fed by the groove generator in front of it.
if part == "drums" then
  local s = create_session (out .. "/drums-session", "drums", 48000)
  assert (s, "create_session failed")
  local pi = ARDOUR.LuaAPI.new_plugin_info ("Diffusion Drums", ARDOUR.PluginType.VST3)
  assert (not pi:isnil (), "Diffusion Drums not in the VST3 cache")
  local tl = s:new_midi_track (ARDOUR.ChanCount (ARDOUR.DataType ("midi"), 1), ARDOUR.ChanCount (ARDOUR.DataType ("audio"), 2),
                               false, pi, nil, nil, 1, "Drums", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
  local track = tl:front ()
  assert (track, "no MIDI track")
  local groove = ARDOUR.LuaAPI.new_luaproc (s, "DP Test Groove")
  assert (not groove:isnil (), "groove script missing")
  assert (track:add_processor_by_index (groove, 0, nil, true) == 0, "groove not added")
  print ("drums track: " .. track:name ())
  export (s, "drums")
  -- What the plugin reported through its read-only parameters (output parameter changes) during the export.
  local insert = track:nth_plugin (1):to_insert ()
  local drums = insert:plugin (0)
  for j = 0, drums:parameter_count () - 1 do
    if drums:parameter_is_output (j) then
      local value = ARDOUR.LuaAPI.get_plugin_insert_param (insert, j, false)
      print ("output parameter " .. drums:parameter_label (j) .. " = " .. value)
    end
  end
  done = true
end

-- Diffusion Widener on a mono audio track, fed by the deterministic signal generator.
if part == "widener" then
  local s = create_session (out .. "/widener-session", "widener", 48000)
  assert (s, "create_session failed")
  local tl = s:new_audio_track (1, 2, nil, 1, "Widen", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true, false)
  local track = tl:front ()
  assert (track, "no audio track")
  print ("audio track created")
  local widener = ARDOUR.LuaAPI.new_plugin (s, "Diffusion Widener", ARDOUR.PluginType.VST3, "")
  assert (not widener:isnil (), "Diffusion Widener not in the VST3 cache")
  print ("widener instantiated")
  assert (track:add_processor_by_index (widener, 0, nil, true) == 0, "widener not added")
  print ("widener added")
  local signal = ARDOUR.LuaAPI.new_luaproc (s, "DP Test Signal")
  assert (not signal:isnil (), "signal script missing")
  assert (track:add_processor_by_index (signal, 0, nil, true) == 0, "signal not added")
  export (s, "widener")
  done = true
end
assert (done, "DP_PART must be drums or widener")
-- Stop the engine before leaving: os.exit runs the C++ static destructors (Ardour's tempo map among them), and a
-- process thread still running would call into them (a segfault in VST3Plugin::connect_and_run -> TempoMap::metric_at
-- at exit, with any VST3 plugin on the track, Steinberg's own samples included). The session teardown is skipped:
-- the export is complete, and Ardour 7.3's export can leave a corrupted heap behind (see plugin/README.md).
io.stdout:flush ()
AudioEngine:stop (false)
io.stdout:flush ()
os.exit (0, false)
