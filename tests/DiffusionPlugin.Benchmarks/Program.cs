if (args.Length > 0 && args[0] == "quick-diffusion")
{
    DiffusionPlugin.Benchmarks.QuickDiffusionTimings.Run();
    return;
}
BenchmarkDotNet.Running.BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
