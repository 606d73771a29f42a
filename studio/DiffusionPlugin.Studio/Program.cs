using DiffusionPlugin.Engine.Logging;
using DiffusionPlugin.Studio;
using Microsoft.ML.OnnxRuntime;

// The same log as the plugin (~/.local/state/DiffusionPlugin/logs): which provider ran and why, and any failure in full.
EngineLog.Configure();
// ONNX Runtime prints its own multi-line errors on stderr (e.g. when Auto probes a CUDA provider that is not there);
// the engine already turns those into one-line reasons (shown by `info`, logged), so keep the terminal to our lines.
try
{
    var ortOptions = new EnvironmentCreationOptions { logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL, logId = "diffusion-studio" };
    OrtEnv.CreateInstanceWithOptions(ref ortOptions);
}
catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or TypeInitializationException) { /* the engine reports it on load */ }
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return StudioApp.Run(args, StudioContext.CreateDefault(), cancel.Token);
