using System.Text.Json;
using DiffusionPlugin.Vst3.Tests.Host;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>The published .so, loaded as a DAW loads it: exports, factory, class infos, moduleinfo.json.</summary>
public unsafe class ModuleAndFactoryTests
{
    private readonly PluginModule _module = PluginModule.Shared;

    [Fact]
    public void Factory_offers_the_drum_instrument_and_the_widener_effect()
    {
        var classes = _module.Classes();
        Assert.Equal(2, classes.Count);
        var drums = classes.Single(c => c.Name == Signals.Drums);
        var widener = classes.Single(c => c.Name == Signals.Widener);
        Assert.Equal("Audio Module Class", drums.Category);
        Assert.Equal("Instrument|Drum", drums.SubCategories);
        Assert.Equal("Fx|Spatial", widener.SubCategories);
        Assert.StartsWith("VST 3", drums.SdkVersion);
        Assert.Equal(0x7FFFFFFF, drums.Cardinality);
        Assert.NotEqual(Convert.ToHexString(drums.Cid), Convert.ToHexString(widener.Cid));
        Assert.Equal(Signals.Drums, _module.UnicodeClassName(classes.IndexOf(drums)));
    }

    [Fact]
    public void Moduleinfo_json_in_the_bundle_describes_exactly_the_factorys_classes()
    {
        var path = Path.Combine(_module.BundlePath, "Contents", "Resources", "moduleinfo.json");
        Assert.True(File.Exists(path), $"missing {path}");
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var listed = doc.RootElement.GetProperty("Classes").EnumerateArray()
            .Select(c => (c.GetProperty("CID").GetString(), c.GetProperty("Name").GetString(),
                          string.Join("|", c.GetProperty("Sub Categories").EnumerateArray().Select(s => s.GetString()))))
            .OrderBy(x => x.Item2).ToList();
        var actual = _module.Classes().Select(c => ((string?)Convert.ToHexString(c.Cid), (string?)c.Name, c.SubCategories))
            .OrderBy(x => x.Item2).ToList();
        Assert.Equal(actual, listed);
    }

    [Fact]
    public void Bundle_carries_the_cpu_onnx_runtime_beside_the_plugin_and_not_the_cuda_provider()
    {
        var arch = Path.Combine(_module.BundlePath, "Contents", "x86_64-linux");
        Assert.True(File.Exists(Path.Combine(arch, "libonnxruntime.so")));
        Assert.False(File.Exists(Path.Combine(arch, "libonnxruntime_providers_cuda.so")));
    }

    [Fact]
    public void An_unknown_class_id_creates_nothing()
    {
        var factory = _module.GetFactory();
        void* obj = (void*)1;
        var cid = new byte[16];
        fixed (byte* c = cid) fixed (byte* iid = Iids.Component)
        {
            int r = ((delegate* unmanaged<void*, byte*, byte*, void**, int>)PluginModule.Vtbl(factory)[6])(factory, c, iid, &obj);
            Assert.NotEqual(TResult.Ok, r);
        }
        Assert.True(obj == null);
        PluginModule.Release(factory);
    }

    [Fact]
    public void Module_exit_and_entry_can_repeat_and_the_factory_keeps_working()
    {
        Assert.True(_module.ModuleEntry());
        Assert.True(_module.ModuleExit());
        Assert.True(_module.ModuleEntry());
        Assert.Equal(2, _module.Classes().Count);
        using var p = _module.Create(Signals.Widener);
        Assert.Equal(TResult.Ok, p.Initialize());
        Assert.Equal(TResult.Ok, p.Terminate());
    }

    [Fact]
    public void One_object_is_component_processor_and_controller()
    {
        using var p = _module.Create(Signals.Drums);
        var cid = stackalloc byte[16];
        Assert.Equal(TResult.False, p.GetControllerClassId(cid)); // single component: no separate controller class
        var req = PluginModule.Query(p.Component, Iids.ProcessContextRequirements);
        Assert.True(req != null);
        PluginModule.Release(req);
        Assert.True(PluginModule.Query(p.Component, Iids.BStream) == null);
        Assert.True(p.CreateView() == null);
    }

    [Fact]
    public void Reference_counts_balance_and_the_last_release_frees_the_plugin_without_touching_host_objects()
    {
        // Hosts (Ardour among them) rely on exact counts: an object freed early, or a host object released once too
        // often, corrupts the host's heap far from the cause.
        var p = _module.Create(Signals.Widener); // three references: component, processor, controller
        using var context = new HostComponentHandler(); // stands in for IHostApplication: any FUnknown the host owns
        using var handler = new HostComponentHandler();
        Assert.Equal(4u, PluginModule.AddRef(p.Component));
        Assert.Equal(3u, PluginModule.Release(p.Component));
        var again = PluginModule.Query(p.Processor, Iids.Component);
        Assert.True(again == p.Component, "queryInterface returns the same interface pointer");
        Assert.Equal(3u, PluginModule.Release(again));

        Assert.Equal(TResult.Ok, ((delegate* unmanaged<void*, void*, int>)PluginModule.Vtbl(p.Component)[3])(p.Component, context.Pointer));
        Assert.Equal(TResult.Ok, p.SetComponentHandler(handler));
        Assert.Equal(2, handler.RefCount); // kept, so addRef'ed
        p.Start(48000, 512); // initializes a second time, as hosts do for the controller side of one object
        p.Stop();
        Assert.Equal(TResult.Ok, p.Terminate()); // the last terminate balances the first initialize
        Assert.Equal(1, context.RefCount); // the initialize context was never kept, so never released
        Assert.Equal(1, handler.RefCount); // released on terminate, exactly once

        Assert.Equal(2u, PluginModule.Release(p.Controller));
        Assert.Equal(1u, PluginModule.Release(p.Processor));
        Assert.Equal(0u, PluginModule.Release(p.Component));
        Assert.Equal(1, handler.RefCount);
    }
}
