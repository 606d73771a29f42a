using System.Numerics.Tensors;
using DiffusionPlugin.Engine.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>
/// A denoiser D(x, σ, c) run by ONNX Runtime from a graph that follows docs/model-contract.md.
/// Inputs and outputs are <see cref="OrtValue"/>s over buffers this object owns, created and bound (OrtIoBinding)
/// once per (batch, length) shape and reused, so a call copies x in, runs, and copies D out without allocating.
/// eps- and v-parameterised graphs are turned into D here. A manifest "guide" adds autoguidance: a second, weaker graph
/// run on the same inputs at noise levels above the guide's minSigma, D = D_guide + w·(D − D_guide)
/// (<see cref="ManifestGuide"/>); callers see one denoiser. Not thread-safe: one thread (the generation worker or a
/// CLI thread) owns an instance; never the audio thread.
/// </summary>
public sealed class OnnxDenoiser : IDenoiser
{
    /// <summary>Shapes kept bound at once; a worker uses one or two (batch sizes), more are dropped and rebuilt.</summary>
    private const int MaxCachedShapes = 8;

    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly Dictionary<(int Batch, int Length), ShapeBinding> _bindings = new();
    private readonly string[] _classNames;
    private readonly bool _bindClass, _bindVelocity, _bindDescriptor;
    private OnnxDenoiser? _guide;
    private float[] _guideOut = [];
    private bool _disposed;

    private OnnxDenoiser(ModelManifest manifest, InferenceSession session, ExecutionDevice device, string deviceReason,
                         int intraOpThreads, bool bindClass, bool bindVelocity, bool bindDescriptor)
    {
        Manifest = manifest;
        _session = session;
        ActiveDevice = device;
        DeviceReason = deviceReason;
        IntraOpThreads = intraOpThreads;
        _bindClass = bindClass;
        _bindVelocity = bindVelocity;
        _bindDescriptor = bindDescriptor;
        _classNames = manifest.Classes;
        if (bindDescriptor && manifest.DescriptorPrior is { Count: > 0 } prior) TimbrePrior = new TimbrePrior(prior, manifest.Classes);
    }

    /// <summary>The manifest this denoiser was loaded from.</summary>
    public ModelManifest Manifest { get; }
    /// <summary>Where the graph runs: Cpu or Cuda.</summary>
    public ExecutionDevice ActiveDevice { get; }
    /// <summary>Why that device was chosen (one line, also logged once at load).</summary>
    public string DeviceReason { get; }
    /// <summary>ONNX Runtime intra-op threads in use.</summary>
    public int IntraOpThreads { get; }

    public int SampleRateHz => Manifest.SampleRateHz;
    public int ClipSamples => Manifest.ClipSamples;
    public int LengthMultiple => Manifest.LengthMultiple;
    public IReadOnlyList<string> ClassNames => _classNames;
    public float SigmaMin => Manifest.SigmaMin;
    public float SigmaMax => Manifest.SigmaMax;
    public float SigmaData => Manifest.SigmaData;
    /// <summary>The autoguidance guide's denoiser (loaded only when the manifest has a guide whose weight is not 1), else null.</summary>
    public OnnxDenoiser? Guide => _guide;
    /// <summary>The manifest's defaults as sampling options. Any thread.</summary>
    public SamplingOptions? TunedSampling => Manifest.Defaults.ToSamplingOptions();
    /// <summary>
    /// The manifest's spectral calibration; null when it names none, or when its file is missing or damaged (then
    /// <see cref="CalibrationProblem"/> says why, and it is logged: hits play uncalibrated rather than not at all).
    /// </summary>
    public SpectralCalibration? Calibration { get; private set; }
    /// <summary>Why the manifest's calibration could not be used (one line), or null.</summary>
    public string? CalibrationProblem { get; private set; }
    /// <summary>Each class's timbres when the graph takes timbre descriptors (manifest <c>descriptorPrior</c>), else null. Any thread.</summary>
    public TimbrePrior? TimbrePrior { get; }

    /// <summary>
    /// Loads the graph named by <paramref name="manifest"/>, picks the execution provider, checks the graph's inputs and
    /// outputs against the manifest and runs one warm-up call at (1, clipSamples). Throws <see cref="ModelLoadException"/>
    /// naming the file and the problem. Not the audio thread (takes from milliseconds to seconds).
    /// </summary>
    public static OnnxDenoiser Load(ModelManifest manifest, ExecutionOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        options ??= new ExecutionOptions();
        var log = EngineLog.For("Diffusion");
        var path = manifest.ModelPath;
        if (!File.Exists(path)) throw new ModelLoadException(path, $"ONNX model file not found (named by {manifest.ManifestPath})");

        if (!OrtProcessExitGuard.TryEnter()) throw new ModelLoadException(path, "the process is exiting");
        try { return LoadInsideGuard(manifest, options, path, log); }
        finally { OrtProcessExitGuard.Leave(); }
    }

    /// <summary>The load itself, inside the process-exit guard.</summary>
    /// <param name="manifest">The model (or, for the guide, the model's manifest pointed at the guide's file).</param>
    /// <param name="options">Device and threads.</param>
    /// <param name="path">The file named in errors.</param>
    /// <param name="log">Where load decisions are logged.</param>
    /// <param name="deviceReason">For the guide: why its model runs where it does (the guide follows the model's device
    /// rather than probing CUDA a second time); null for the model itself.</param>
    private static OnnxDenoiser LoadInsideGuard(ModelManifest manifest, ExecutionOptions options, string path, Serilog.ILogger log,
        string? deviceReason = null)
    {
        int threads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Math.Max(1, Environment.ProcessorCount - 1);
        InferenceSession session;
        ExecutionDevice device;
        string reason;
        try { (session, device, reason) = CreateSession(path, options.Device, threads); reason = deviceReason ?? reason; }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or EntryPointNotFoundException or BadImageFormatException)
        {
            // libonnxruntime.so itself did not load (not beside the plugin, wrong architecture): a host must not crash.
            throw new ModelLoadException(path, $"ONNX Runtime could not be loaded ({ModelManifest.OneLine((e.InnerException ?? e).Message)})", e);
        }
        OnnxDenoiser? denoiser = null;
        try
        {
            var (bindClass, bindVelocity, bindDescriptor) = CheckGraph(session, manifest, path);
            denoiser = new OnnxDenoiser(manifest, session, device, reason, threads, bindClass, bindVelocity, bindDescriptor);
            if (manifest.Guide is { } g && g.Weight != 1f)
            {
                var guidePath = manifest.GuideModelPath!;
                if (!File.Exists(guidePath)) throw new ModelLoadException(guidePath, $"guide ONNX file not found (named by {manifest.ManifestPath})");
                // The guide follows the same contract: the same manifest with its own file, and no guide, calibration or timbre
                // prior of its own (the model draws the timbres); it may lack the timbre input (a guide trained without
                // descriptors ignores them, as in onnx-export).
                // A model that fell back to the CPU takes its guide with it: probing CUDA again would only log the same
                // reason twice. On CUDA the guide asks as the model did, so it can still fall back on its own under Auto.
                bool onCpu = device == ExecutionDevice.Cpu;
                denoiser._guide = LoadInsideGuard(manifest with { Model = g.Model, Guide = null, Calibration = null, DescriptorPrior = null,
                                                                  Conditioning = manifest.Conditioning with { Descriptors = null } },
                    onCpu ? options with { Device = ExecutionDevice.Cpu } : options, guidePath, log, onCpu ? $"as the model: {reason}" : null);
            }
            if (manifest.CalibrationPath is { } calibrationPath)
            {
                try { denoiser.Calibration = SpectralCalibration.Load(calibrationPath); }
                catch (ModelLoadException e)
                {
                    denoiser.CalibrationProblem = e.Message;
                    log.Warning("Model {Name}: calibration not used, hits play uncalibrated: {Problem}", manifest.Name, e.Message);
                }
            }
            denoiser.WarmUp(path);
            OrtProcessExitGuard.RegisterAfterLoad();
            // The one line that says where the model runs and why (CUDA, or the reason for the CPU).
            log.Information("Model {Name} loaded from {Path}: running on {Device} ({Reason}); {Threads} intra-op threads; parameterization {Parameterization}",
                manifest.Name, path, device.ToString(), reason, threads, manifest.Parameterization);
            return denoiser;
        }
        catch
        {
            if (denoiser is not null) denoiser.Dispose(); else session.Dispose();
            throw;
        }
    }

    private static SessionOptions NewSessionOptions(int threads)
    {
        var so = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Spinning worker threads would burn the cores the host's audio thread needs between our calls.
        so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return so;
    }

    private static (InferenceSession, ExecutionDevice, string) CreateSession(string path, ExecutionDevice wanted, int threads)
    {
        string cpuReason = "CPU requested";
        if (wanted != ExecutionDevice.Cpu)
        {
            SessionOptions? so = null;
            // Under Auto a missing CUDA is expected: keep ONNX Runtime from printing its own error to stderr meanwhile.
            var env = OrtEnv.Instance();
            var level = env.EnvLogLevel;
            if (wanted == ExecutionDevice.Auto) env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
            try
            {
                so = NewSessionOptions(threads);
                so.AppendExecutionProvider_CUDA(0);
            }
            catch (Exception e)
            {
                so?.Dispose();
                so = null;
                cpuReason = $"CUDA execution provider unavailable: {ModelManifest.OneLine(e.Message)}";
                if (wanted == ExecutionDevice.Cuda) throw new ModelLoadException(path, cpuReason, e);
            }
            finally
            {
                if (wanted == ExecutionDevice.Auto) env.EnvLogLevel = level;
            }
            if (so is not null)
            {
                try
                {
                    var s = new InferenceSession(path, so);
                    return (s, ExecutionDevice.Cuda, wanted == ExecutionDevice.Cuda ? "CUDA requested" : "CUDA execution provider loaded");
                }
                catch (Exception e)
                {
                    cpuReason = $"CUDA session failed: {ModelManifest.OneLine(e.Message)}";
                    if (wanted == ExecutionDevice.Cuda) throw new ModelLoadException(path, cpuReason, e);
                    // Auto: try again on the CPU below; if the file itself is bad, that attempt says so.
                }
                finally { so.Dispose(); }
            }
        }

        using var cpu = NewSessionOptions(threads);
        try { return (new InferenceSession(path, cpu), ExecutionDevice.Cpu, cpuReason); }
        catch (Exception e) when (e is OnnxRuntimeException or InvalidOperationException or IOException)
        {
            throw new ModelLoadException(path, $"not a valid ONNX model ({ModelManifest.OneLine(e.Message)})", e);
        }
    }

    /// <summary>Checks names, element types and ranks of the graph's inputs/outputs against the manifest.</summary>
    private static (bool BindClass, bool BindVelocity, bool BindDescriptor) CheckGraph(InferenceSession session, ModelManifest m, string path)
    {
        var inputs = session.InputMetadata;
        var outputs = session.OutputMetadata;
        void Fail(string problem) => throw new ModelLoadException(path, $"graph does not match {Path.GetFileName(m.ManifestPath)}: {problem}");

        void Expect(IReadOnlyDictionary<string, NodeMetadata> set, string kind, string name, TensorElementType type, int rank)
        {
            if (!set.TryGetValue(name, out var meta))
                Fail($"{kind} '{name}' is missing (graph has {string.Join(", ", set.Keys)})");
            if (!meta!.IsTensor || meta.ElementDataType != type)
                Fail($"{kind} '{name}' is {meta.ElementDataType}, expected {type}");
            if (meta.Dimensions.Length != rank)
                Fail($"{kind} '{name}' has rank {meta.Dimensions.Length}, expected {rank}");
            if (rank == 3 && meta.Dimensions[1] is not (1 or -1))
                Fail($"{kind} '{name}' has {meta.Dimensions[1]} channels, expected 1 (mono)");
        }

        Expect(inputs, "input", m.Inputs.X, TensorElementType.Float, 3);
        Expect(inputs, "input", m.Inputs.Sigma, TensorElementType.Float, 1);
        bool bindClass = m.Inputs.ClassId is { Length: > 0 } c && inputs.ContainsKey(c);
        bool bindVelocity = m.Inputs.Velocity is { Length: > 0 } v && inputs.ContainsKey(v);
        if (m.Conditioning.Class || bindClass) Expect(inputs, "input", m.Inputs.ClassId!, TensorElementType.Int64, 1);
        if (m.Conditioning.Velocity || bindVelocity) Expect(inputs, "input", m.Inputs.Velocity!, TensorElementType.Float, 1);
        bool bindDescriptor = m.Inputs.Descriptor is { Length: > 0 } t && inputs.ContainsKey(t);
        if (m.Conditioning.Descriptors is { Length: > 0 } || bindDescriptor)
        {
            Expect(inputs, "input", m.Inputs.Descriptor!, TensorElementType.Float, 2);
            if (inputs[m.Inputs.Descriptor!].Dimensions[1] is not (TimbrePrior.Count + 1 or -1))
                Fail($"input '{m.Inputs.Descriptor}' has {inputs[m.Inputs.Descriptor!].Dimensions[1]} columns, expected {TimbrePrior.Count + 1} (descriptors and a given flag)");
        }
        foreach (var name in inputs.Keys)
        {
            if (name != m.Inputs.X && name != m.Inputs.Sigma && !(bindClass && name == m.Inputs.ClassId) && !(bindVelocity && name == m.Inputs.Velocity)
                && !(bindDescriptor && name == m.Inputs.Descriptor))
                Fail($"graph input '{name}' is not named in the manifest");
        }
        Expect(outputs, "output", m.Outputs.Denoised, TensorElementType.Float, 3);
        if (bindClass && m.NullClassId > m.Classes.Length)
            Fail($"nullClassId {m.NullClassId} is beyond the {m.Classes.Length} classes");
        return (bindClass, bindVelocity, bindDescriptor);
    }

    private void WarmUp(string path)
    {
        int length = ClipSamples;
        var x = new float[length];
        var d = new float[length];
        ReadOnlySpan<float> sigma = [1f];
        ReadOnlySpan<DiffusionConditioning> cond = [new DiffusionConditioning(DiffusionConditioning.Unconditional, 1f)];
        try { Denoise(x, sigma, cond, 1, length, d); }
        catch (InvalidOperationException e)
        {
            throw new ModelLoadException(path, $"graph failed its warm-up run at [1, 1, {length}] ({ModelManifest.OneLine(e.Message)})", e);
        }
        foreach (var value in d)
        {
            if (!float.IsFinite(value)) throw new ModelLoadException(path, "graph returned NaN or infinity in its warm-up run");
        }
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">Shapes or spans that do not fit, or a class id out of range.</exception>
    /// <exception cref="InvalidOperationException">ONNX Runtime failed during the run (message names the model file).</exception>
    public void Denoise(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                        int batch, int length, Span<float> denoised)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DenoiserArguments.Check(x, sigma, conditioning, batch, length, LengthMultiple, denoised);
        OrtProcessExitGuard.Enter();
        ShapeBinding bound;
        int n = batch * length;
        try
        {
            bound = GetBinding(batch, length);
            Bind(bound, x, sigma, conditioning, batch, n);
            try { _session.RunWithBinding(_runOptions, bound.Binding); }
            catch (OnnxRuntimeException e)
            {
                // A run can still fail after a good load (out of device memory, a shape the graph cannot take).
                throw new InvalidOperationException($"{Manifest.ModelPath}: ONNX Runtime failed on [{batch}, 1, {length}] ({ModelManifest.OneLine(e.Message)})", e);
            }
        }
        finally { OrtProcessExitGuard.Leave(); }
        WriteDenoised(bound.Output.AsSpan(0, n), x, sigma, batch, length, denoised[..n]);
        if (_guide is not null) Autoguide(x, sigma, conditioning, batch, length, denoised[..n]);
    }

    /// <summary>D ← D_guide + w·(D − D_guide) for the items whose σ is above the guide's minSigma.</summary>
    private void Autoguide(ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning,
                           int batch, int length, Span<float> denoised)
    {
        var guide = Manifest.Guide!;
        bool any = false;
        for (int b = 0; b < batch; b++) any |= sigma[b] > guide.MinSigma;
        if (!any) return; // the low-σ steps cost the model alone
        int n = batch * length;
        if (_guideOut.Length < n) _guideOut = new float[n];
        var g = _guideOut.AsSpan(0, n);
        _guide!.Denoise(x, sigma, conditioning, batch, length, g);
        for (int b = 0; b < batch; b++)
        {
            if (!(sigma[b] > guide.MinSigma)) continue;
            var d = denoised.Slice(b * length, length);
            var gb = g.Slice(b * length, length);
            TensorPrimitives.Subtract(d, gb, d);
            TensorPrimitives.MultiplyAdd(d, guide.Weight, gb, d);
        }
    }

    private void Bind(ShapeBinding bound, ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, ReadOnlySpan<DiffusionConditioning> conditioning, int batch, int n)
    {
        x[..n].CopyTo(bound.X);
        for (int b = 0; b < batch; b++)
        {
            bound.Sigma[b] = sigma[b];
            int id = conditioning[b].ClassId;
            if (id == DiffusionConditioning.Unconditional) id = Manifest.NullClassId;
            else if ((uint)id >= (uint)_classNames.Length)
                throw new ArgumentOutOfRangeException(nameof(conditioning), id, $"class id must be -1 or 0..{_classNames.Length - 1}");
            bound.ClassId[b] = id;
            float velocity = conditioning[b].Velocity;
            bound.Velocity[b] = float.IsFinite(velocity) ? Math.Clamp(velocity, 0f, 1f) : 1f;
            if (!_bindDescriptor) continue;
            // The unconditional branch never has a timbre: training dropped the descriptors with the class.
            var row = bound.Descriptor.AsSpan(b * (TimbrePrior.Count + 1), TimbrePrior.Count + 1);
            if (conditioning[b].Timbre is { } t && id != Manifest.NullClassId
                && float.IsFinite(t.Brightness) && float.IsFinite(t.Noisiness) && float.IsFinite(t.Decay))
            {
                row[0] = t.Brightness; row[1] = t.Noisiness; row[2] = t.Decay; row[3] = 1f;
            }
            else row.Clear();
        }
    }

    private void WriteDenoised(ReadOnlySpan<float> y, ReadOnlySpan<float> x, ReadOnlySpan<float> sigma, int batch, int length, Span<float> dst)
    {
        switch (Manifest.Parameterization)
        {
            case "eps": // D = x − σ·ε̂
                for (int b = 0; b < batch; b++)
                    TensorPrimitives.MultiplyAdd(y.Slice(b * length, length), -sigma[b], x.Slice(b * length, length), dst.Slice(b * length, length));
                break;
            case "v": // D = c_skip·x − c_out·v̂ (Karras et al. 2022, Table 1 preconditioning with σ_data)
                float sd = SigmaData, sd2 = sd * sd;
                for (int b = 0; b < batch; b++)
                {
                    float s = sigma[b], s2 = s * s;
                    float cSkip = sd2 / (s2 + sd2), cOut = s * sd / MathF.Sqrt(s2 + sd2);
                    var slice = dst.Slice(b * length, length);
                    TensorPrimitives.Multiply(x.Slice(b * length, length), cSkip, slice);
                    TensorPrimitives.MultiplyAdd(y.Slice(b * length, length), -cOut, slice, slice);
                }
                break;
            default: // edm: the graph's output is D itself
                y.CopyTo(dst);
                break;
        }
    }

    private ShapeBinding GetBinding(int batch, int length)
    {
        if (_bindings.TryGetValue((batch, length), out var bound)) return bound;
        if (_bindings.Count >= MaxCachedShapes)
        {
            foreach (var old in _bindings.Values) old.Dispose();
            _bindings.Clear();
        }
        bound = new ShapeBinding(_session, Manifest, batch, length, _bindClass, _bindVelocity, _bindDescriptor);
        _bindings.Add((batch, length), bound);
        return bound;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        // During exit() ORT's statics may already be gone: releasing native objects then could crash the host.
        if (!OrtProcessExitGuard.TryEnter()) return;
        try { ReleaseNative(); }
        finally { OrtProcessExitGuard.Leave(); }
    }

    private void ReleaseNative()
    {
        _guide?.ReleaseNative();
        foreach (var b in _bindings.Values) b.Dispose();
        _bindings.Clear();
        _runOptions.Dispose();
        _session.Dispose();
    }

    /// <summary>Buffers, OrtValues over them, and an IoBinding, for one (batch, length).</summary>
    private sealed class ShapeBinding : IDisposable
    {
        public readonly float[] X, Sigma, Velocity, Descriptor, Output;
        public readonly long[] ClassId;
        public readonly OrtIoBinding Binding;
        private readonly List<OrtValue> _values = new(6);

        public ShapeBinding(InferenceSession session, ModelManifest m, int batch, int length, bool bindClass, bool bindVelocity,
                            bool bindDescriptor)
        {
            X = new float[batch * length];
            Output = new float[batch * length];
            Sigma = new float[batch];
            Velocity = new float[batch];
            ClassId = new long[batch];
            Descriptor = new float[bindDescriptor ? batch * (TimbrePrior.Count + 1) : 0];
            Binding = session.CreateIoBinding();
            try
            {
                long[] audioShape = [batch, 1, length], itemShape = [batch];
                Binding.BindInput(m.Inputs.X, Track(OrtValue.CreateTensorValueFromMemory(X, audioShape)));
                Binding.BindInput(m.Inputs.Sigma, Track(OrtValue.CreateTensorValueFromMemory(Sigma, itemShape)));
                if (bindClass) Binding.BindInput(m.Inputs.ClassId!, Track(OrtValue.CreateTensorValueFromMemory(ClassId, itemShape)));
                if (bindVelocity) Binding.BindInput(m.Inputs.Velocity!, Track(OrtValue.CreateTensorValueFromMemory(Velocity, itemShape)));
                if (bindDescriptor)
                    Binding.BindInput(m.Inputs.Descriptor!, Track(OrtValue.CreateTensorValueFromMemory(Descriptor, [batch, TimbrePrior.Count + 1])));
                Binding.BindOutput(m.Outputs.Denoised, Track(OrtValue.CreateTensorValueFromMemory(Output, audioShape)));
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private OrtValue Track(OrtValue v)
        {
            _values.Add(v);
            return v;
        }

        public void Dispose()
        {
            Binding.Dispose();
            foreach (var v in _values) v.Dispose();
            _values.Clear();
        }
    }
}
