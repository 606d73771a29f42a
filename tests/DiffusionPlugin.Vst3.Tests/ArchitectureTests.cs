using System.Reflection;
using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>House rules of the plugin shell, checked on its assembly and sources.</summary>
public class ArchitectureTests
{
    private static readonly Assembly Plugin = typeof(DiffusionPlugin.Vst3.Plugin.AudioPlugin).Assembly;

    [Fact]
    public void Every_native_entry_point_catches_exceptions_or_calls_nothing()
    {
        var entryPoints = Plugin.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            .Where(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>() != null)
            .ToList();
        Assert.True(entryPoints.Count > 40, $"only {entryPoints.Count} entry points found");
        foreach (var m in entryPoints)
        {
            var body = m.GetMethodBody()!;
            bool catches = body.ExceptionHandlingClauses.Any(c => c.Flags == ExceptionHandlingClauseOptions.Clause);
            // Without a handler the body may only load constants and return (no call can throw into the host).
            bool trivial = body.GetILAsByteArray()!.Length <= 8;
            Assert.True(catches || trivial, $"{m.DeclaringType!.Name}.{m.Name} can let an exception reach the host");
        }
    }

    [Fact]
    public void Only_the_interop_folder_sees_pointers()
    {
        var root = FindRepository();
        var pluginLayer = Directory.GetFiles(Path.Combine(root, "plugin", "DiffusionPlugin.Vst3", "Plugin"), "*.cs", SearchOption.AllDirectories);
        Assert.NotEmpty(pluginLayer);
        foreach (var file in pluginLayer)
        {
            var text = File.ReadAllText(file);
            foreach (var word in new[] { "unsafe", "nint", "IntPtr", "void*", "fixed (", "Marshal." })
                Assert.False(text.Contains(word), $"{Path.GetFileName(file)} uses '{word}' outside Interop/");
        }
    }

    [Fact]
    public void The_engine_never_references_the_plugin()
    {
        var engine = typeof(DiffusionPlugin.Engine.Realtime.IDrumInstrument).Assembly;
        Assert.DoesNotContain(engine.GetReferencedAssemblies(), a => a.Name == Plugin.GetName().Name);
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "DiffusionPlugin.sln"))) return dir.FullName;
        throw new InvalidOperationException("repository root not found");
    }
}
