using LifelongMoE.Host.Cli;
using LifelongMoE.Host.Configuration;

namespace LifelongMoE.Host.Tests.Configuration;

public class ConfigLayersSpec
{
    [Theory]
    [InlineData("cuda:0", "cuda:0")]
    [InlineData("/tmp/a b/manifest.hocon", "/tmp/a b/manifest.hocon")]
    [InlineData("\"quoted\"", "quoted")]
    [InlineData("5e-4", "5e-4")]
    [InlineData("with \"quotes\" inside", "with \"quotes\" inside")]
    public void Override_values_need_no_quoting(string value, string read)
    {
        var config = ConfigLayers.ParseOverride(new Override("lifelong-moe.x", value));

        Assert.Equal(read, config.GetString("lifelong-moe.x"));
    }

    [Fact]
    public void A_list_override_is_a_list()
    {
        var config = ConfigLayers.ParseOverride(new Override("lifelong-moe.distributions", "[legal, code]"));

        Assert.Equal(new[] { "legal", "code" }, config.GetStringList("lifelong-moe.distributions"));
    }

    [Fact]
    public void The_hocon_folder_is_found_from_the_working_directory_or_the_executable()
    {
        var dir = ConfigLayers.FindHoconDirectory();

        Assert.True(File.Exists(Path.Combine(dir, "base.hocon")));
        Assert.Equal(new[] { "default", "large", "tiny" }, ConfigLayers.PresetNames(dir));
    }

    [Fact]
    public void Hocon_and_data_are_copied_beside_the_executable()
    {
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hocon", "base.hocon")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "hocon", "presets", "tiny.hocon")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "data", "manifest.hocon")));
        Assert.True(File.Exists(Path.Combine(AppContext.BaseDirectory, "data", "corpora", "legal.jsonl.gz")));
    }

    [Fact]
    public void Base_hocon_binds_the_serializer_the_dispatchers_and_the_frame_size()
    {
        var config = ConfigLayers.Load(CommandLine.Parse(["train"]), Repository.Hocon);

        Assert.Equal("LifelongMoE.Actors.Serialization.MessagePackSerializer, LifelongMoE.Actors",
            config.GetString("akka.actor.serializers.moe-messagepack"));
        var binding = "\"LifelongMoE.Actors.Messages.IMoeMessage, LifelongMoE.Actors\"";
        Assert.Equal("moe-messagepack", config.GetString($"akka.actor.serialization-bindings.{binding}"));
        Assert.Equal("cluster", config.GetString("akka.actor.provider"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.True(config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size") >= 16 * 1024 * 1024);
        Assert.Equal("off", config.GetString("akka.cluster.sharding.passivate-idle-entity-after"));
        Assert.False(config.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal("keep-majority", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal(2, config.GetInt("torch-dispatcher.dedicated-thread-pool.thread-count"));
        Assert.Equal("PinnedDispatcher", config.GetString("gating-dispatcher.type"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.journal.sql.provider-name"));
        Assert.Equal("SQLite.MS", config.GetString("akka.persistence.snapshot-store.sql.provider-name"));
    }
}
