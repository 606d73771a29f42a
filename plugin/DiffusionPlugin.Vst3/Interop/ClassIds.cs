using DiffusionPlugin.Vst3.Plugin;

namespace DiffusionPlugin.Vst3.Interop;

/// <summary>Turns a class's four id words into the platform's TUID bytes.</summary>
internal static class ClassIds
{
    public static Tuid Of(PluginClassInfo c) => Tuid.FromWords(c.IdWords[0], c.IdWords[1], c.IdWords[2], c.IdWords[3]);
}
