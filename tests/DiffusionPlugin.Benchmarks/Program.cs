if (args.Length > 0 && args[0] == "realtime-figures") { DiffusionPlugin.Benchmarks.RealtimeFigures.Run(args[1..]); return; }
if (args.Length > 0 && args[0] == "quick-diffusion")
{
    DiffusionPlugin.Benchmarks.QuickDiffusionTimings.Run(barOnly: args.Contains("--bar"));
    return;
}
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
