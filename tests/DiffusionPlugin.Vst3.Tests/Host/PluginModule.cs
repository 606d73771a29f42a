using System.Runtime.InteropServices;

namespace DiffusionPlugin.Vst3.Tests.Host;

/// <summary>One class as the factory describes it.</summary>
internal sealed record ClassEntry(byte[] Cid, string Category, string Name, string SubCategories, string Vendor, string Version, string SdkVersion, int Cardinality);

/// <summary>
/// The published plugin loaded as a DAW loads it: dlopen, ModuleEntry, GetPluginFactory. NativeAOT libraries cannot
/// be unloaded, so one module serves the whole test run.
/// </summary>
internal sealed unsafe class PluginModule
{
    public const string BundleVariable = "DIFFUSION_VST3_BUNDLE";
    public const string LogDirVariable = "DIFFUSION_PLUGIN_LOG_DIR";

    private static readonly Lazy<PluginModule> Lazy = new(() => new PluginModule());
    public static PluginModule Shared => Lazy.Value;

    public string BundlePath { get; }
    public string LibraryPath { get; }
    public string LogDirectory { get; }
    public nint Handle { get; }
    private readonly delegate* unmanaged<void*, byte> _moduleEntry;
    private readonly delegate* unmanaged<byte> _moduleExit;
    private readonly delegate* unmanaged<void*> _getFactory;
    private readonly delegate* unmanaged<long> _processAllocatedBytes;

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);

    private PluginModule()
    {
        BundlePath = LocateBundle();
        LibraryPath = Path.Combine(BundlePath, "Contents", "x86_64-linux", "DiffusionPlugin.so");
        if (!File.Exists(LibraryPath))
            throw new InvalidOperationException($"The bundle at {BundlePath} has no {LibraryPath}. Build it: bash plugin/build-bundle.sh artifacts/bundle");
        // The plugin reads the C environment (getenv); .NET's Environment.SetEnvironmentVariable would not reach it.
        LogDirectory = Path.Combine(Path.GetTempPath(), $"diffusion-vst3-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(LogDirectory);
        SetEnv(LogDirVariable, LogDirectory, 1);
        Handle = NativeLibrary.Load(LibraryPath);
        _moduleEntry = (delegate* unmanaged<void*, byte>)NativeLibrary.GetExport(Handle, "ModuleEntry");
        _moduleExit = (delegate* unmanaged<byte>)NativeLibrary.GetExport(Handle, "ModuleExit");
        _getFactory = (delegate* unmanaged<void*>)NativeLibrary.GetExport(Handle, "GetPluginFactory");
        _processAllocatedBytes = (delegate* unmanaged<long>)NativeLibrary.GetExport(Handle, "DiffusionPlugin_ProcessAllocatedBytes");
        if (_moduleEntry((void*)Handle) == 0) throw new InvalidOperationException("ModuleEntry returned false");
    }

    /// <summary>$DIFFUSION_VST3_BUNDLE, else artifacts/bundle/DiffusionPlugin.vst3 under the repository root.</summary>
    public static string LocateBundle()
    {
        var fromEnv = Environment.GetEnvironmentVariable(BundleVariable);
        if (!string.IsNullOrEmpty(fromEnv))
        {
            if (!Directory.Exists(fromEnv)) throw new InvalidOperationException($"{BundleVariable}={fromEnv} does not exist");
            return Path.GetFullPath(fromEnv);
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "DiffusionPlugin.sln"))) continue;
            var bundle = Path.Combine(dir.FullName, "artifacts", "bundle", "DiffusionPlugin.vst3");
            if (Directory.Exists(bundle)) return bundle;
            throw new InvalidOperationException(
                $"No plugin bundle at {bundle}. Publish it first: bash plugin/build-bundle.sh artifacts/bundle (or set {BundleVariable})");
        }
        throw new InvalidOperationException($"Repository root not found from {AppContext.BaseDirectory}; set {BundleVariable}");
    }

    public bool ModuleEntry() => _moduleEntry((void*)Handle) != 0;
    public bool ModuleExit() => _moduleExit() != 0;
    /// <summary>Managed bytes the plugin allocated inside process calls since it was loaded (all instances).</summary>
    public long ProcessAllocatedBytes() => _processAllocatedBytes();

    /// <summary>The factory with one reference the caller must release.</summary>
    public void* GetFactory() => _getFactory();

    public static nint* Vtbl(void* obj) => *(nint**)obj;

    public static void* Require(void* obj, byte[] iid, string name)
    {
        var p = Query(obj, iid);
        if (p == null) throw new InvalidOperationException($"no {name}");
        return p;
    }

    public static void* Query(void* obj, byte[] iid)
    {
        void* result = null;
        fixed (byte* p = iid)
            return ((delegate* unmanaged<void*, byte*, void**, int>)Vtbl(obj)[0])(obj, p, &result) == TResult.Ok ? result : null;
    }

    public static uint AddRef(void* obj) => ((delegate* unmanaged<void*, uint>)Vtbl(obj)[1])(obj);
    public static uint Release(void* obj) => ((delegate* unmanaged<void*, uint>)Vtbl(obj)[2])(obj);

    public List<ClassEntry> Classes()
    {
        var factory = GetFactory();
        try
        {
            var f2 = Require(factory, Iids.PluginFactory2, "IPluginFactory2");
            int count = ((delegate* unmanaged<void*, int>)Vtbl(factory)[4])(factory);
            var list = new List<ClassEntry>();
            for (int i = 0; i < count; i++)
            {
                PClassInfo2 info;
                int r = ((delegate* unmanaged<void*, int, PClassInfo2*, int>)Vtbl(f2)[7])(f2, i, &info);
                if (r != TResult.Ok) throw new InvalidOperationException($"getClassInfo2({i}) = {r}");
                list.Add(new ClassEntry(new ReadOnlySpan<byte>(info.Cid, 16).ToArray(), Ascii(info.Category), Ascii(info.Name),
                    Ascii(info.SubCategories), Ascii(info.Vendor), Ascii(info.Version), Ascii(info.SdkVersion), info.Cardinality));
            }
            Release(f2);
            return list;
        }
        finally { Release(factory); }
    }

    public string UnicodeClassName(int index)
    {
        var factory = GetFactory();
        var f3 = Require(factory, Iids.PluginFactory3, "IPluginFactory3");
        PClassInfoW info;
        int r = ((delegate* unmanaged<void*, int, PClassInfoW*, int>)Vtbl(f3)[8])(f3, index, &info);
        Release(f3);
        Release(factory);
        if (r != TResult.Ok) throw new InvalidOperationException($"getClassInfoUnicode = {r}");
        return new string(info.Name);
    }

    public PluginInstance Create(string className)
    {
        var entry = Classes().Single(c => c.Name == className);
        var factory = GetFactory();
        try
        {
            void* obj = null;
            fixed (byte* cid = entry.Cid)
            fixed (byte* iid = Iids.Component)
            {
                int r = ((delegate* unmanaged<void*, byte*, byte*, void**, int>)Vtbl(factory)[6])(factory, cid, iid, &obj);
                if (r != TResult.Ok || obj == null) throw new InvalidOperationException($"createInstance({className}) = {r}");
            }
            return new PluginInstance(obj);
        }
        finally { Release(factory); }
    }

    private static string Ascii(byte* p)
    {
        int n = 0;
        while (p[n] != 0) n++;
        return System.Text.Encoding.UTF8.GetString(p, n);
    }
}
