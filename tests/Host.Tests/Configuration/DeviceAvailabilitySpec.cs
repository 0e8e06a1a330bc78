using LifelongMoE.Actors.Training;

namespace LifelongMoE.Host.Tests.Configuration;

/// <summary>A CUDA device is refused before a run starts where this process has none; the CPU always passes.</summary>
public class DeviceAvailabilitySpec
{
    [Fact]
    public void Cpu_passes_and_cuda_is_refused_naming_the_key_where_no_gpu_is_visible()
    {
        Assert.Equal("cpu", RunSettingsBinding.RequireDeviceAvailable("cpu"));
        if (TorchSharp.torch.cuda.is_available())
        {
            Assert.Equal("cuda:0", RunSettingsBinding.RequireDeviceAvailable("cuda:0"));
            return;
        }

        var e = Assert.Throws<SettingsException>(() => RunSettingsBinding.RequireDeviceAvailable("cuda:0"));
        Assert.Equal("lifelong-moe.device", e.Key);
        Assert.Contains("CUDA is not available", e.Message);
    }
}
