using DiffusionPlugin.Engine.Diffusion;

namespace DiffusionPlugin.Engine.Tests.Diffusion;

/// <summary>The exit gate is process-wide: these tests close it, so nothing else may run ORT meanwhile.</summary>
[CollectionDefinition(nameof(ProcessExitGuardCollection), DisableParallelization = true)]
public sealed class ProcessExitGuardCollection;

[Collection(nameof(ProcessExitGuardCollection))]
public sealed class ProcessExitGuardTests
{
    [Fact]
    public void Once_the_process_exits_a_denoiser_no_longer_calls_onnx_runtime_and_disposes_without_touching_it()
    {
        var denoiser = TestModels.LoadAnalyticOnnx();
        int length = denoiser.LengthMultiple * 4;
        var x = new float[length];
        var d = new float[length];
        DiffusionConditioning[] cond = [new(DiffusionConditioning.Unconditional, 1f)];
        denoiser.Denoise(x, [1f], cond, 1, length, d); // runs while the gate is open
        try
        {
            OrtProcessExitGuard.SimulateExitForTests();
            Assert.True(OrtProcessExitGuard.IsExiting);
            Assert.Throws<OperationCanceledException>(() => denoiser.Denoise(x, [1f], cond, 1, length, d));
            denoiser.Dispose(); // must not release native objects (nor throw) once exit() has begun
            var refused = Assert.Throws<ModelLoadException>(() => TestModels.LoadAnalyticOnnx());
            Assert.Contains("exiting", refused.Message);
        }
        finally
        {
            OrtProcessExitGuard.ResetForTests();
        }
        using var fresh = TestModels.LoadAnalyticOnnx(); // the gate re-opened: loading works again
        fresh.Denoise(x, [1f], cond, 1, length, d);
        Assert.All(d, v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void The_exit_handler_waits_for_a_call_in_flight_before_letting_the_destructors_run()
    {
        Assert.True(OrtProcessExitGuard.TryEnter()); // a worker inside ORT
        var exit = new Thread(OrtProcessExitGuard.SimulateExitForTests) { IsBackground = true };
        exit.Start();
        try
        {
            Assert.False(exit.Join(TimeSpan.FromMilliseconds(200)), "the exit handler returned while a call was still inside ORT");
            Assert.True(OrtProcessExitGuard.IsExiting);
            Assert.False(OrtProcessExitGuard.TryEnter()); // a second call is refused meanwhile
        }
        finally
        {
            OrtProcessExitGuard.Leave(); // the call in flight ends
        }
        Assert.True(exit.Join(OrtProcessExitGuard.MaxExitWait), "the exit handler kept waiting after the last call left ORT");
        OrtProcessExitGuard.ResetForTests();
        Assert.True(OrtProcessExitGuard.TryEnter());
        OrtProcessExitGuard.Leave();
    }
}
