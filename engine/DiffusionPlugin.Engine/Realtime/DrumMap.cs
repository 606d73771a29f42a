namespace DiffusionPlugin.Engine.Realtime;

/// <summary>
/// Drum classes in the order of the shipped model's class list (docs/model-contract.md). The worker resolves each to
/// the loaded model's class id by name, so a model with another order still gets the right sound.
/// </summary>
public enum DrumClass
{
    None = -1,
    Kick = 0, Snare = 1, Rim = 2, Clap = 3, Tom = 4, HihatClosed = 5, HihatOpen = 6, Crash = 7, Ride = 8, Percussion = 9,
    General = 10,
}

/// <summary>The General MIDI drum map, class names and choke rules. Any thread (pure functions).</summary>
public static class DrumMap
{
    /// <summary>Number of drum classes (without <see cref="DrumClass.None"/>).</summary>
    public const int ClassCount = 11;

    /// <summary>Lowest and highest General MIDI percussion note (Acoustic Bass Drum … Open Triangle).</summary>
    public const int FirstGmNote = 35, LastGmNote = 81;

    /// <summary>The model's class name for a <see cref="DrumClass"/> ("kick", "hihat_closed", …).</summary>
    public static string ClassName(DrumClass c) => c switch
    {
        DrumClass.Kick => "kick", DrumClass.Snare => "snare", DrumClass.Rim => "rim", DrumClass.Clap => "clap",
        DrumClass.Tom => "tom", DrumClass.HihatClosed => "hihat_closed", DrumClass.HihatOpen => "hihat_open",
        DrumClass.Crash => "crash", DrumClass.Ride => "ride", DrumClass.Percussion => "percussion",
        DrumClass.General => "general", _ => "",
    };

    /// <summary>
    /// General MIDI: 35/36 kick, 37 rim, 38/40 snare, 39 clap, 41/43/45/47/48/50 toms, 42/44 closed (pedal) hat,
    /// 46 open hat, 49/52/55/57 crash, 51/53/59 ride, every other note 35–81 percussion; outside 35–81 unmapped.
    /// </summary>
    public static DrumClass GeneralMidi(int note) => note switch
    {
        35 or 36 => DrumClass.Kick,
        37 => DrumClass.Rim,
        38 or 40 => DrumClass.Snare,
        39 => DrumClass.Clap,
        41 or 43 or 45 or 47 or 48 or 50 => DrumClass.Tom,
        42 or 44 => DrumClass.HihatClosed,
        46 => DrumClass.HihatOpen,
        49 or 52 or 55 or 57 => DrumClass.Crash,
        51 or 53 or 59 => DrumClass.Ride,
        >= FirstGmNote and <= LastGmNote => DrumClass.Percussion,
        _ => DrumClass.None,
    };

    /// <summary>Choke group a note belongs to as a victim (0 = none): the open hat is group 1.</summary>
    public static int DefaultChokeGroup(int note) => note == 46 ? 1 : 0;

    /// <summary>Choke group a note silences when it sounds (0 = none): closed and pedal hat choke the open hat.</summary>
    public static int DefaultChokes(int note) => note is 42 or 44 ? 1 : 0;

    /// <summary>Model class id for a drum class given the model's class names; -1 when the model has no such class.</summary>
    public static int ResolveClassId(DrumClass c, IReadOnlyList<string> modelClassNames)
    {
        string name = ClassName(c);
        for (int i = 0; i < modelClassNames.Count; i++)
            if (string.Equals(modelClassNames[i], name, StringComparison.OrdinalIgnoreCase)) return i;
        return -1;
    }
}
