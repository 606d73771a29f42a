namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// Finds the shipped model's manifest when no explicit path is given: the environment variable
/// <see cref="EnvironmentVariable"/> (a manifest file or a folder holding manifest.json), else
/// <c>models/drums/manifest.json</c> beside <see cref="AppContext.BaseDirectory"/> or in any folder above it.
/// The plugin passes an explicit path (its bundle's Resources) and uses this only as a fallback. Any non-audio thread.
/// </summary>
public static class ModelLocator
{
    /// <summary>Environment variable that overrides the default model.</summary>
    public const string EnvironmentVariable = "DIFFUSIONPLUGIN_MODEL";

    /// <summary>The default manifest's place relative to a search folder.</summary>
    public static readonly string RelativeDefaultManifest = Path.Combine("models", "drums", "manifest.json");

    /// <summary>The manifest to load, or null when none is found (see <see cref="ResolveOrThrow"/>).</summary>
    public static string? FindDefaultManifest() => FindDefaultManifest(AppContext.BaseDirectory);

    /// <summary>As <see cref="FindDefaultManifest()"/>, searching upwards from <paramref name="startDirectory"/>.</summary>
    public static string? FindDefaultManifest(string startDirectory)
    {
        var env = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(env)) return AsManifestPath(env);
        for (var dir = new DirectoryInfo(Path.GetFullPath(startDirectory)); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, RelativeDefaultManifest);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>
    /// <paramref name="explicitPath"/> when given (a manifest file or its folder), else the default manifest.
    /// Throws <see cref="ModelLoadException"/> when nothing is found, naming where it looked.
    /// </summary>
    public static string ResolveOrThrow(string? explicitPath = null)
    {
        if (!string.IsNullOrWhiteSpace(explicitPath)) return AsManifestPath(explicitPath);
        return FindDefaultManifest()
            ?? throw new ModelLoadException(Path.Combine(AppContext.BaseDirectory, RelativeDefaultManifest),
                $"no model found (set {EnvironmentVariable} or place {RelativeDefaultManifest} beside the program or in a folder above it)");
    }

    private static string AsManifestPath(string path)
    {
        var full = Path.GetFullPath(path);
        return Directory.Exists(full) ? Path.Combine(full, "manifest.json") : full;
    }
}
