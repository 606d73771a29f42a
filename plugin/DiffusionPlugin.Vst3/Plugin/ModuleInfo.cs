using System.Text;

namespace DiffusionPlugin.Vst3.Plugin;

/// <summary>Builds Contents/Resources/moduleinfo.json (the SDK's module description) from <see cref="PluginClasses"/>.</summary>
internal static class ModuleInfo
{
    /// <param name="classIdHex">The class id as the factory writes it (32 hex digits).</param>
    public static string Json(Func<PluginClassInfo, string> classIdHex)
    {
        var sb = new StringBuilder();
        sb.Append("{\n");
        sb.Append($"  \"Name\": \"DiffusionPlugin\",\n  \"Version\": \"{PluginClasses.Version}\",\n");
        sb.Append("  \"Factory Info\": {\n");
        sb.Append($"    \"Vendor\": \"{PluginClasses.Vendor}\",\n    \"URL\": \"{PluginClasses.Url}\",\n    \"E-Mail\": \"{PluginClasses.Email}\",\n");
        sb.Append("    \"Flags\": {\n      \"Unicode\": true,\n      \"Classes Discardable\": false,\n      \"Component Non Discardable\": false\n    }\n  },\n");
        sb.Append("  \"Compatibility\": [],\n  \"Classes\": [\n");
        for (int i = 0; i < PluginClasses.All.Count; i++)
        {
            var c = PluginClasses.All[i];
            var subs = string.Join(", ", c.SubCategories.Split('|').Select(s => $"\"{s}\""));
            sb.Append("    {\n");
            sb.Append($"      \"CID\": \"{classIdHex(c)}\",\n      \"Category\": \"{PluginClasses.AudioModuleCategory}\",\n");
            sb.Append($"      \"Name\": \"{c.Name}\",\n      \"Vendor\": \"{PluginClasses.Vendor}\",\n      \"Version\": \"{PluginClasses.Version}\",\n");
            sb.Append($"      \"SDKVersion\": \"{PluginClasses.SdkVersion}\",\n      \"Sub Categories\": [{subs}],\n");
            sb.Append("      \"Class Flags\": 0,\n      \"Cardinality\": 2147483647,\n      \"Snapshots\": []\n");
            sb.Append(i + 1 < PluginClasses.All.Count ? "    },\n" : "    }\n");
        }
        sb.Append("  ]\n}\n");
        return sb.ToString();
    }
}
