using DiffusionPlugin.Engine.Logging;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

public class EngineLogTests
{
    [Fact]
    public void Configure_writes_a_rolling_log_file_into_the_given_folder()
    {
        var dir = Path.Combine(Path.GetTempPath(), "diffusionplugin-tests", Guid.NewGuid().ToString("N"));
        try
        {
            Assert.Equal(dir, EngineLog.Configure(dir));
            EngineLog.For("Test").Information("hello {Who}", "log");
        }
        finally { EngineLog.CloseAndFlush(); }
        var files = Directory.GetFiles(dir, "diffusionplugin-*.log");
        Assert.Single(files);
        Assert.Contains("hello log", File.ReadAllText(files[0]));
    }

    [Fact]
    public void The_default_folder_follows_XDG_STATE_HOME()
    {
        var old = Environment.GetEnvironmentVariable("XDG_STATE_HOME");
        try
        {
            Environment.SetEnvironmentVariable("XDG_STATE_HOME", "/tmp/state-home");
            Assert.Equal("/tmp/state-home/DiffusionPlugin/logs", EngineLog.DefaultDirectory());
            Environment.SetEnvironmentVariable("XDG_STATE_HOME", null);
            Assert.EndsWith(".local/state/DiffusionPlugin/logs", EngineLog.DefaultDirectory());
        }
        finally { Environment.SetEnvironmentVariable("XDG_STATE_HOME", old); }
    }
}
