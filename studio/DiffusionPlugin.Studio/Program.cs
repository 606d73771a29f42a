using DiffusionPlugin.Studio;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };
return StudioApp.Run(args, StudioContext.CreateDefault(), cancel.Token);
