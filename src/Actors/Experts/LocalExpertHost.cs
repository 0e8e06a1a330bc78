using Akka.Actor;
using LifelongMoE.Actors.Messages;

namespace LifelongMoE.Actors.Experts;

/// <summary>
/// Routes expert messages by id to child expert actors, creating them on first contact: the single-process
/// stand-in for the sharding region, with the same addressing. Used by specs and by runs without a cluster.
/// </summary>
public sealed class LocalExpertHost : ReceiveActor
{
    public LocalExpertHost(string? dispatcher = null)
    {
        Receive<IExpertMessage>(m =>
        {
            var child = Context.Child(m.ExpertId);
            if (child.IsNobody())
            {
                var props = ExpertActor.Props(m.ExpertId);
                child = Context.ActorOf(dispatcher is null ? props : props.WithDispatcher(dispatcher), m.ExpertId);
            }
            child.Forward(m);
        });
    }

    public static Props Props(string? dispatcher = null) =>
        Akka.Actor.Props.Create(() => new LocalExpertHost(dispatcher));
}
