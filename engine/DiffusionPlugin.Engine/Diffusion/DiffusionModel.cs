namespace DiffusionPlugin.Engine.Diffusion;

/// <summary>The engine's front door: load a model and get every diffusion operation over it.</summary>
public static class DiffusionModel
{
    /// <summary>
    /// Reads and validates <paramref name="manifestPath"/> (a manifest.json or its folder), loads its ONNX graph on the
    /// device <paramref name="options"/> asks for (CUDA falling back to CPU under Auto), warms it up, and returns the
    /// operations over it; disposing them releases the model. Throws only <see cref="ModelLoadException"/> (one line:
    /// file and problem) for a bad model. Not the audio thread: takes from milliseconds to seconds.
    /// </summary>
    public static IDiffusionOperations Load(string manifestPath, ExecutionOptions? options = null)
        => new DiffusionOperations(LoadDenoiser(manifestPath, options), ownsDenoiser: true);

    /// <summary>As <see cref="Load"/>, but returns the bare denoiser.</summary>
    public static OnnxDenoiser LoadDenoiser(string manifestPath, ExecutionOptions? options = null)
    {
        var manifest = ModelManifest.Load(ModelLocator.ResolveOrThrow(manifestPath));
        return OnnxDenoiser.Load(manifest, options);
    }

    /// <summary>The shipped default model (see <see cref="ModelLocator"/>).</summary>
    public static IDiffusionOperations LoadDefault(ExecutionOptions? options = null) => Load(ModelLocator.ResolveOrThrow(), options);

    /// <summary>Operations over a denoiser the caller made (and keeps owning unless <paramref name="ownsDenoiser"/>).</summary>
    public static IDiffusionOperations Over(IDenoiser denoiser, bool ownsDenoiser = false) => new DiffusionOperations(denoiser, ownsDenoiser);
}
