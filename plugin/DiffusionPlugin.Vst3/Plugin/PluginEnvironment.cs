using DiffusionPlugin.Vst3.Interop;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>Where the plugin was loaded from and where its bundle's resources are. Immutable; any thread.</summary>
internal sealed record PluginEnvironment(string? ModuleFile, string? BundleRoot)
{
    private static readonly Lazy<PluginEnvironment> Lazy = new(() => FromModuleFile(ModulePath.OfThisLibrary()));

    /// <summary>The environment of the loaded module.</summary>
    public static PluginEnvironment Current => Lazy.Value;

    /// <summary>
    /// A module at Bundle.vst3/Contents/x86_64-linux/Name.so has its bundle root three levels up;
    /// anything else (a bare .so) has none.
    /// </summary>
    public static PluginEnvironment FromModuleFile(string? moduleFile)
    {
        if (moduleFile == null) return new PluginEnvironment(null, null);
        var archDir = Path.GetDirectoryName(moduleFile);
        var contents = archDir == null ? null : Path.GetDirectoryName(archDir);
        var root = contents == null ? null : Path.GetDirectoryName(contents);
        bool isBundle = contents != null && Path.GetFileName(contents) == "Contents" && root != null
                        && root.EndsWith(".vst3", StringComparison.OrdinalIgnoreCase);
        return new PluginEnvironment(moduleFile, isBundle ? root : null);
    }

    /// <summary>The drum model's manifest inside the bundle (it may not exist), or null outside a bundle.</summary>
    public string? DrumManifestPath => BundleRoot == null
        ? null
        : Path.Combine(BundleRoot, "Contents", "Resources", "models", "drums", "manifest.json");

    public string Describe() => $"module {ModuleFile ?? "(unknown)"}, bundle {BundleRoot ?? "(none)"}, log {PluginLog.Directory}";
}
