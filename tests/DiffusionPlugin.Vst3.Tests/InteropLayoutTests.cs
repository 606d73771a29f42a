using DiffusionPlugin.Vst3.Interop;

namespace DiffusionPlugin.Vst3.Tests;

/// <summary>
/// The plugin's structs must have the byte sizes the VST3 headers give them on 64-bit Linux (natural alignment):
/// writing a larger struct into a host's buffer would corrupt the host's memory.
/// </summary>
public unsafe class InteropLayoutTests
{
    [Fact]
    public void Structs_the_plugin_writes_have_the_sdk_sizes()
    {
        Assert.Equal(452, sizeof(PFactoryInfo));
        Assert.Equal(116, sizeof(PClassInfo));
        Assert.Equal(440, sizeof(PClassInfo2));
        Assert.Equal(696, sizeof(PClassInfoW));
        Assert.Equal(276, sizeof(BusInfo));
        Assert.Equal(12, sizeof(RoutingInfo));
        Assert.Equal(792, sizeof(ParameterInfo));
    }

    [Fact]
    public void Structs_the_plugin_reads_have_the_sdk_sizes()
    {
        Assert.Equal(24, sizeof(ProcessSetup));
        Assert.Equal(24, sizeof(AudioBusBuffers));
        Assert.Equal(80, sizeof(ProcessData));
        Assert.Equal(48, sizeof(Event));
    }

    [Fact]
    public void Interface_ids_are_big_endian_words_on_linux_and_com_guids_on_windows()
    {
        var linux = Tuid.FromWords(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D, comOrder: false);
        Assert.Equal("42043F99B7DA453CA569E79D9AAEC33D", linux.ToHex());
        var com = Tuid.FromWords(0x42043F99, 0xB7DA453C, 0xA569E79D, 0x9AAEC33D, comOrder: true);
        Assert.Equal("993F0442DAB73C45A569E79D9AAEC33D", com.ToHex());
    }
}
