namespace LifelongMoE.Actors.Tests;

/// <summary>HOCON fragments the specs share, copied from hocon/base.hocon where they mirror it.</summary>
public static class SpecConfig
{
    /// <summary>Joins fragments line by line (a raw literal has no final newline, and HOCON needs one between keys).</summary>
    public static string Of(params string[] fragments) => string.Join("\n", fragments);

    /// <summary>The moe-messagepack serializer bound to every pipeline message, as in base.hocon.</summary>
    public const string Serialization = """
        akka.actor {
          serializers {
            moe-messagepack = "LifelongMoE.Actors.Serialization.MessagePackSerializer, LifelongMoE.Actors"
          }
          serialization-bindings {
            "LifelongMoE.Actors.Messages.IMoeMessage, LifelongMoE.Actors" = moe-messagepack
          }
        }
        """;

    /// <summary>The experts' shared pool and the gating actor's own thread, as in base.hocon.</summary>
    public const string Dispatchers = """
        torch-dispatcher {
          type = ForkJoinDispatcher
          executor = fork-join-executor
          throughput = 1
          dedicated-thread-pool {
            thread-count = 2
            threadtype = background
          }
        }
        gating-dispatcher {
          type = PinnedDispatcher
          executor = fork-join-executor
        }
        """;

    /// <summary>Generous expectation timeouts: torch work on two shared cores can be slow to start.</summary>
    public const string TestTimeouts = """
        akka.test.single-expect-default = 30s
        akka.test.default-timeout = 30s
        akka.loglevel = WARNING
        """;
}
