namespace DiffusionPlugin.Vst3.Interop;

/// <summary>
/// IPluginBase: initialize(context) and terminate(), entries 3 and 4 of IComponent and IEditController.
/// Both interfaces of our single component share one implementation (see ComponentObject).
/// </summary>
internal static class IPluginBase
{
    public static readonly Tuid Iid = Tuid.FromWords(0x22888DDB, 0x156E45AE, 0x8358B348, 0x08190625);
}
