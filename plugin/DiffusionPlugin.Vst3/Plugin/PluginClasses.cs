namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>One class the factory offers: name, VST3 sub-categories, id words, and how to make an instance.</summary>
internal sealed record PluginClassInfo(string Name, string SubCategories, uint[] IdWords, Func<PluginEnvironment, AudioPlugin> Create);

/// <summary>The module's classes and vendor facts. Both factory and moduleinfo.json are generated from this list.</summary>
internal static class PluginClasses
{
    public const string Vendor = "DiffusionPlugin";
    public const string Url = "https://github.com/diffusionplugin/diffusionplugin";
    public const string Email = "diffusionplugin@users.noreply.github.com";
    public const string Version = "0.1.0";
    public const string SdkVersion = "VST 3.7.14";
    public const string AudioModuleCategory = "Audio Module Class";

    public static readonly PluginClassInfo Drums = new(
        "Diffusion Drums", "Instrument|Drum", [0x6D1F4A20, 0x9C3B4E71, 0xA5D2C8E4, 0x1B7F3D90], env => new DrumsPlugin(env));

    public static readonly PluginClassInfo Widener = new(
        "Diffusion Widener", "Fx|Spatial", [0x3E8B2C51, 0x7A4D4F19, 0xB6E1D0A3, 0x5C9F2E84], env => new WidenerPlugin(env));

    public static readonly IReadOnlyList<PluginClassInfo> All = [Drums, Widener];
}
