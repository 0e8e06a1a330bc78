using System.Collections.Concurrent;
using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using LifelongMoE.Actors.Messages;

namespace LifelongMoE.Actors.Serialization;

/// <summary>
/// Akka serializer for every <see cref="IMoeMessage"/>: MessagePack contracts with the untrusted-data security
/// mode; the manifest is the message's type name, and only types of this assembly that implement
/// <see cref="IMoeMessage"/> are ever instantiated. Registered in base.hocon as "moe-messagepack".
/// </summary>
public sealed class MessagePackSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private static readonly ConcurrentDictionary<string, Type> Types = new(
        typeof(IMoeMessage).Assembly.GetTypes()
            .Where(t => typeof(IMoeMessage).IsAssignableFrom(t) && !t.IsAbstract && !t.IsInterface)
            .ToDictionary(t => t.Name, t => t));

    public override int Identifier => 4711;

    public override string Manifest(object o) => o.GetType().Name;

    public override byte[] ToBinary(object obj) =>
        MessagePack.MessagePackSerializer.Serialize(obj.GetType(), obj, MoeResolver.Options);

    /// <exception cref="SerializationException">unknown manifest, or bytes that are not a valid message of it</exception>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        if (!Types.TryGetValue(manifest, out var type))
            throw new SerializationException($"unknown message type '{manifest}'");
        try
        {
            return MessagePack.MessagePackSerializer.Deserialize(type, bytes, MoeResolver.Options)
                ?? throw new SerializationException($"{manifest}: the message is nil");
        }
        catch (MessagePack.MessagePackSerializationException e)
        {
            var cause = e.GetBaseException();
            throw new SerializationException($"{manifest} ({bytes.Length} bytes) is malformed: {cause.Message}", e);
        }
    }
}
