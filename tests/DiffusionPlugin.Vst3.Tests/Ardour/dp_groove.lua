ardour { ["type"] = "dsp", name = "DP Test Groove", category = "Utility", license = "MIT", author = "DiffusionPlugin tests",
         description = [[Plays a fixed drum groove at absolute timeline samples while the transport rolls (test fixture).]] }

-- Note-ons at timeline sample 4800 + 24000·k (k = 0..7), note-offs 2400 samples later. Keep in step with ArdourHostTests.
local notes = { 36, 38, 36, 42, 36, 38, 36, 42 }
local first, spacing, length = 4800, 24000, 2400

function dsp_ioconfig () return { { midi_in = 1, midi_out = 1, audio_in = 0, audio_out = 0 } } end

function dsp_run (_, _, n_samples)
  assert (type (midiout) == "table")
  if not Session:transport_rolling () then return end
  local start = Session:transport_sample ()
  local m = 1
  for k, note in ipairs (notes) do
    local on = first + spacing * (k - 1)
    for _, ev in ipairs ({ { on, 0x99, 100 }, { on + length, 0x89, 0 } }) do
      local t = ev[1] - start
      if t >= 0 and t < n_samples then
        midiout[m] = { time = t + 1, data = { ev[2], note, ev[3] } }
        m = m + 1
      end
    end
  end
end
