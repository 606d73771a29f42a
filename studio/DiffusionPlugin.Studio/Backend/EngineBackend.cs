using DiffusionPlugin.Engine.Diffusion;
using DiffusionPlugin.Engine.Realtime;

namespace DiffusionPlugin.Studio.Backend;

/// <summary>The real engine behind the studio: the same model loader and real-time engines the plugin runs.</summary>
public sealed class EngineBackend : IStudioBackend
{
    /// <summary>The shipped model, relative to the repository root or an installed bundle's Resources folder.</summary>
    public const string DefaultManifestRelativePath = "models/drums/manifest.json";

    public string ResolveManifestPath(string? modelOption)
    {
        if (!string.IsNullOrWhiteSpace(modelOption))
        {
            string full = Path.GetFullPath(modelOption);
            return Directory.Exists(full) ? Path.Combine(full, "manifest.json") : full;
        }
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, DefaultManifestRelativePath);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, DefaultManifestRelativePath));
    }

    public LoadedModel LoadModel(string manifestPath, ExecutionOptions execution)
    {
        var manifest = ManifestInfo.Read(manifestPath);
        throw new ModelLoadException(manifestPath,
            $"model '{manifest.Name}' found, but this build has no diffusion engine to run it yet (DiffusionModel.Load missing)");
    }

    public IDrumInstrument CreateDrums(EngineOptions options) =>
        throw new ModelLoadException(options.ManifestPath ?? DefaultManifestRelativePath, "this build has no real-time drum engine yet");

    public IStereoWidener CreateWidener(EngineOptions options) =>
        throw new ModelLoadException(options.ManifestPath ?? DefaultManifestRelativePath, "this build has no real-time widener yet");
}
