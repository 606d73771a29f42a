using System.Reflection;

namespace DiffusionPlugin.Engine.Tests;

public class ArchitectureTests
{
    [Fact]
    public void The_engine_knows_nothing_of_the_VST3_shell()
    {
        var engine = typeof(DiffusionPlugin.Engine.Diffusion.IDenoiser).Assembly;
        var referenced = engine.GetReferencedAssemblies().Select(a => a.Name).ToArray();
        Assert.DoesNotContain(referenced, n => n != null && (n.StartsWith("DiffusionPlugin.Vst3") || n == "DiffusionPlugin"));
        Assert.DoesNotContain(engine.GetTypes(), t => t.Namespace?.Contains("Vst3") == true);
    }
}
