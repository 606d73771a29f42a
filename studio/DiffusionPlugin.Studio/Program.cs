using DiffusionPlugin.Engine.Logging;
using DiffusionPlugin.Studio;

// The same log as the plugin (~/.local/state/DiffusionPlugin/logs): which provider ran and why, and any failure in full.
EngineLog.Configure();
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return StudioApp.Run(args, StudioContext.CreateDefault(), cancel.Token);
