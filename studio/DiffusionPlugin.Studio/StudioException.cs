namespace DiffusionPlugin.Studio;

/// <summary>
/// Bad input the user can fix (missing file, unknown class, value out of range, unwritable folder).
/// <see cref="Exception.Message"/> is the one line printed before the studio exits with <see cref="ExitCode"/>.
/// </summary>
public sealed class StudioException(string message, int exitCode = StudioExitCodes.BadInput) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>The studio's exit statuses.</summary>
public static class StudioExitCodes
{
    public const int Success = 0;
    /// <summary>Bad arguments or input files.</summary>
    public const int BadInput = 1;
    /// <summary>The model could not be loaded (or the real-time engine fell back to no model).</summary>
    public const int ModelError = 2;
    /// <summary>Interrupted (Ctrl+C); nothing half-written is left.</summary>
    public const int Cancelled = 130;
    /// <summary>An unexpected failure (a bug): one line, details in the log.</summary>
    public const int InternalError = 70;
}
