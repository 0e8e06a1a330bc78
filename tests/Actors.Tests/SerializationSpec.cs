using System.Buffers;
using System.Collections;
using System.Runtime.Serialization;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using LifelongMoE.Actors.Experts;
using LifelongMoE.Actors.Messages;
using LifelongMoE.Actors.Supervision;
using MessagePack;
using Xunit.Abstractions;
using TorchSharp;
using static TorchSharp.torch;
using MoeSerializer = LifelongMoE.Actors.Serialization.MessagePackSerializer;

namespace LifelongMoE.Actors.Tests;

/// <summary>
/// Every pipeline message crosses a process boundary through Akka's serialization extension configured as in
/// base.hocon: tensors come back bitwise, and bad input is rejected with an exception rather than a crash.
/// </summary>
public sealed class SerializationSpec(ITestOutputHelper output)
    : TestKit(SpecConfig.Of(SpecConfig.Serialization, SpecConfig.TestTimeouts), output)
{
    private static readonly AdamWSettings Adam = new(0.9, 0.95, 1e-8, 0.1);

    /// <summary>One example of every concrete message type, with tensors where the type carries them.</summary>
    private static IEnumerable<object> Samples()
    {
        manual_seed(3);
        var key = new StepKey(12, 1, 3);
        yield return new InitExpert("L1-E0", Weights(), Frozen: true, Adam, "cpu");
        yield return new ExpertForward("L1-E0", key, new TensorPayload(randn(5, 16)), KeepGraph: true);
        yield return new ExpertForwardDone("L1-E0", key, new TensorPayload(randn(5, 16)));
        yield return new ExpertBackward("L1-E0", key, new TensorPayload(randn(5, 16)));
        yield return new ExpertBackwardDone("L1-E0", key, new TensorPayload(randn(5, 16)), 0.125);
        yield return new ExpertWeights("L3-E7", Weights());
        yield return new ApplyStep("L1-E2", 40, 3e-4, 0.75);
        yield return new StepApplied("L1-E2", 40, Moved: true);
        yield return new FreezeExpert("L1-E2");
        yield return new SaveExpert("L1-E2", "/tmp/x/L1-E2.safetensors", WithOptimizer: true);
        yield return new ExpertSaved("L1-E2", "/tmp/x/L1-E2.safetensors");
        yield return new RestoreExpert("L1-E2", "/tmp/x/L1-E2.safetensors", Frozen: false, Adam, "cuda:1");
        yield return new GetExpertWeights("L1-E2");
        yield return new GetExpertState("L1-E2");
        yield return new ExpertState("L1-E2", Initialised: true, Frozen: false, Steps: 17, PendingGraphs: 2);
        yield return new Ack("L1-E2");
        yield return new GetStatus();
        yield return new Pause();
        yield return new Resume();
        yield return new Checkpoint();
        yield return new Stop();
        yield return new ShiftNow();
        yield return new StatusReport("training", 2, 3, "legal", 5, 300, 305, double.NaN, 1234.5, 6, null);
        yield return new ControlAck("paused after step 3");
        yield return new PhaseStarted(1, "scripture", 6, new[] { "L1-E4", "L1-E5" });
        yield return new CheckpointCommitted(1, 600, "checkpoints/00000600-p02-scripture-end", PhaseEnd: true);
        yield return new PhaseCompleted(1, "scripture", new[] { 2.5, 1.75, double.PositiveInfinity }, "{\"a\":1}");
        yield return new RunRecovered(1, 623, 620, "checkpoints/00000620-p02-scripture", 1, "expert L1-E3 timed out");
        yield return new RunRecovered(0, 3, 0, null, 2, "InitExpert to expert L1-E0 got no reply");
        yield return new RunFinished(false, "expert L1-E3 timed out");
        yield return new RunFinished(true, null);
    }

    private static TensorMap Weights() => new(new Dictionary<string, Tensor>
    {
        ["fc1.weight"] = randn(32, 16), ["fc1.bias"] = randn(32), ["fc2.weight"] = randn(16, 32), ["fc2.bias"] = randn(16),
    });

    /// <summary>Theory rows by index and type name, so each message type shows as its own test case.</summary>
    public static IEnumerable<object[]> Messages() => Samples().Select((m, i) => new object[] { i, m.GetType().Name });

    private object RoundTrip(object message)
    {
        var serializer = Sys.Serialization.FindSerializerFor(message);
        var bytes = serializer.ToBinary(message);
        return Sys.Serialization.Deserialize(bytes, serializer.Identifier, Manifest(serializer, message));
    }

    private static string Manifest(Serializer serializer, object message) =>
        ((SerializerWithStringManifest)serializer).Manifest(message);

    [Theory]
    [MemberData(nameof(Messages))]
    public void Message_is_serialized_by_moe_messagepack_and_round_trips(int sample, string type)
    {
        var message = Samples().ElementAt(sample);
        Assert.Equal(type, message.GetType().Name);
        Assert.IsType<MoeSerializer>(Sys.Serialization.FindSerializerFor(message));

        var copy = RoundTrip(message);

        AssertSameMessage(message, copy, message.GetType().Name);
    }

    [Fact]
    public void Every_message_type_of_the_pipeline_has_a_round_trip_sample()
    {
        var types = typeof(IMoeMessage).Assembly.GetTypes()
            .Where(t => typeof(IMoeMessage).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => t.Name).ToHashSet();

        types.ExceptWith(Samples().Select(s => s.GetType().Name));

        Assert.Empty(types);
    }

    private static readonly Dictionary<string, Func<Tensor>> TensorKinds = new()
    {
        ["float32 matrix"] = () => randn(7, 3),
        ["float64 matrix"] = () => randn(4, 5, dtype: ScalarType.Float64),
        ["int64 vector"] = () => tensor(new[] { long.MinValue, -1L, 0L, long.MaxValue }),
        ["0-d float32"] = () => tensor(3.25f),
        ["0-d int64"] = () => tensor(-7L),
        ["empty (0, 16)"] = () => empty(0, 16),
        ["empty int64 vector"] = () => empty(0, dtype: ScalarType.Int64),
        ["non-contiguous view"] = () => randn(6, 4).t(),
        ["float32 specials"] = () => tensor(new[] { float.NaN, -0f, float.NegativeInfinity, 1e-45f }),
    };

    public static IEnumerable<object[]> TensorKindNames() => TensorKinds.Keys.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(TensorKindNames))]
    public void Tensor_payload_round_trips_bitwise_with_dtype_and_shape(string kind)
    {
        manual_seed(5);
        var t = TensorKinds[kind]();
        var message = new ExpertForward("L1-E0", new StepKey(1, 0, 1), new TensorPayload(t), KeepGraph: false);

        var copy = (ExpertForward)RoundTrip(message);

        TensorAssert.Bitwise(t.contiguous(), copy.Input.Tensor, kind);
        Assert.Equal(DeviceType.CPU, copy.Input.Tensor.device_type);
    }

    [Fact]
    public void Journal_events_and_control_messages_use_the_moe_serializer()
    {
        foreach (var type in new[] { typeof(PhaseStarted), typeof(PhaseCompleted), typeof(CheckpointCommitted),
                     typeof(RunFinished), typeof(Stop), typeof(StatusReport) })
            Assert.IsType<MoeSerializer>(Sys.Serialization.FindSerializerForType(type));
    }

    [Fact]
    public void Malformed_bytes_throw_a_serialization_error()
    {
        var serializer = Serializer();
        var garbage = new byte[] { 0xc1, 0xff, 0x00, 0x13, 0x37 };

        AssertRejected(() => serializer.FromBinary(garbage, nameof(ExpertForward)));
    }

    [Fact]
    public void Truncated_message_throws_a_serialization_error()
    {
        var serializer = Serializer();
        var bytes = serializer.ToBinary(Samples().OfType<ExpertWeights>().Single());

        AssertRejected(() => serializer.FromBinary(bytes[..(bytes.Length / 2)], nameof(ExpertWeights)));
    }

    [Fact]
    public void Unknown_manifest_throws_naming_it()
    {
        var serializer = Serializer();
        var bytes = serializer.ToBinary(new Stop());

        var unknown = AssertRejected(() => serializer.FromBinary(bytes, "NoSuchMessage"));
        // A type that exists but is no pipeline message must not be instantiated either.
        AssertRejected(() => serializer.FromBinary(bytes, nameof(ExpertActor)));

        Assert.Contains("NoSuchMessage", unknown.Message);
    }

    [Fact]
    public void Byte_count_not_matching_the_shape_throws()
    {
        var bytes = ForwardWithTensor((int)ScalarType.Float32, new long[] { 2, 3 }, new byte[20]);

        var e = AssertRejected(() => Serializer().FromBinary(bytes, nameof(ExpertForward)));

        Assert.Contains("20 bytes for shape [2,3]", Describe(e));
    }

    [Fact]
    public void Shape_too_large_for_its_bytes_is_rejected_before_allocating()
    {
        // 2^60 float32 elements: allocating first would fail inside torch, or worse.
        var bytes = ForwardWithTensor((int)ScalarType.Float32, new long[] { 1L << 20, 1L << 20, 1L << 20 }, new byte[8]);

        var e = AssertRejected(() => Serializer().FromBinary(bytes, nameof(ExpertForward)));

        Assert.Contains("8 bytes for shape", Describe(e));
    }

    [Theory]
    [InlineData(6, new long[] { -2, 3 }, "negative dimension")]
    [InlineData(9, new long[] { 2 }, "not allowed")]                   // complex64
    [InlineData(6, new long[] { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, "rank 9")]
    public void Invalid_tensor_header_throws(int dtype, long[] shape, string problem)
    {
        var bytes = ForwardWithTensor(dtype, shape, new byte[4]);

        var e = AssertRejected(() => Serializer().FromBinary(bytes, nameof(ExpertForward)));

        Assert.Contains(problem, Describe(e));
    }

    [Fact]
    public void Tensor_of_a_dtype_the_wire_does_not_carry_fails_to_serialize()
    {
        var message = new ExpertForward("L1-E0", new StepKey(1, 0, 1),
            new TensorPayload(ones(3, dtype: ScalarType.Int16)), KeepGraph: false);

        var e = Assert.ThrowsAny<Exception>(() => Serializer().ToBinary(message));

        Assert.Contains("Int16", Describe(e));
    }

    private MoeSerializer Serializer() => (MoeSerializer)Sys.Serialization.FindSerializerForType(typeof(ExpertForward));

    /// <summary>An ExpertForward as the wire format writes it, with a hand-made tensor.</summary>
    private static byte[] ForwardWithTensor(int dtype, long[] shape, byte[] data)
    {
        var buffer = new ArrayBufferWriter<byte>();
        var writer = new MessagePackWriter(buffer);
        writer.WriteArrayHeader(4);
        writer.Write("L1-E0");
        writer.WriteArrayHeader(3);
        writer.Write(1L);
        writer.Write(0);
        writer.Write(1);
        writer.WriteArrayHeader(3);
        writer.Write(dtype);
        writer.WriteArrayHeader(shape.Length);
        foreach (var s in shape) writer.Write(s);
        writer.Write(data);
        writer.Write(true);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Akka's contract for serializers: bad input is a SerializationException, whatever went wrong inside.</summary>
    private static Exception AssertRejected(Func<object> read) => Assert.Throws<SerializationException>(() => read());

    private static string Describe(Exception e) =>
        string.Join(" <- ", Chain(e).Select(x => x.Message));

    private static IEnumerable<Exception> Chain(Exception? e)
    {
        for (; e is not null; e = e.InnerException) yield return e;
    }

    /// <summary>Compares public properties: tensors bitwise, sequences element-wise, the rest by equality.</summary>
    private static void AssertSameMessage(object expected, object actual, string path)
    {
        Assert.IsType(expected.GetType(), actual);
        foreach (var p in expected.GetType().GetProperties().Where(p => p.GetIndexParameters().Length == 0))
        {
            var e = p.GetValue(expected);
            var a = p.GetValue(actual);
            var where = $"{path}.{p.Name}";
            switch (e)
            {
                case null:
                    Assert.True(a is null, $"{where}: expected null");
                    break;
                case TensorPayload te:
                    TensorAssert.Bitwise(te.Tensor, Assert.IsType<TensorPayload>(a).Tensor, where);
                    break;
                case TensorMap me:
                    TensorAssert.Bitwise(me.Tensors, Assert.IsType<TensorMap>(a).Tensors);
                    break;
                case double d:
                    Assert.True(d.Equals((double)a!), $"{where}: {a} != {d}");
                    break;
                case string or StepKey or AdamWSettings or ValueType:
                    Assert.True(e.Equals(a), $"{where}: {a} != {e}");
                    break;
                case IEnumerable items:
                    Assert.Equal(items.Cast<object>(), Assert.IsAssignableFrom<IEnumerable>(a).Cast<object>());
                    break;
                default:
                    Assert.True(e.Equals(a), $"{where}: {a} != {e}");
                    break;
            }
        }
    }
}
