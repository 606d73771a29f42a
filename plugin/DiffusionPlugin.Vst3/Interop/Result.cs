namespace DiffusionPlugin.Vst3.Interop;

/// <summary>VST3 tresult codes. Linux and macOS use small integers; Windows uses COM HRESULTs.</summary>
internal static class Result
{
    private static readonly bool Com = OperatingSystem.IsWindows();

    public const int Ok = 0;
    public const int True = 0;
    public const int False = 1;
    public static readonly int NoInterface = Com ? unchecked((int)0x80004002) : -1;
    public static readonly int InvalidArgument = Com ? unchecked((int)0x80070057) : 2;
    public static readonly int NotImplemented = Com ? unchecked((int)0x80004001) : 3;
    public static readonly int InternalError = Com ? unchecked((int)0x80004005) : 4;
    public static readonly int NotInitialized = Com ? unchecked((int)0x8000FFFF) : 5;
    public static readonly int OutOfMemory = Com ? unchecked((int)0x8007000E) : 6;
}
