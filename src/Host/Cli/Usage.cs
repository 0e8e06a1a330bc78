namespace LifelongMoE.Host.Cli;

/// <summary>The help text, and the exit codes it documents.</summary>
internal static class Usage
{
    public const int Ok = 0;

    /// <summary>A settings, corpus or checkpoint error, or a failed run.</summary>
    public const int Failed = 1;

    /// <summary>The command line itself is wrong.</summary>
    public const int BadUsage = 2;

    /// <summary>Stopped by Ctrl+C (128 + SIGINT, as shells report it).</summary>
    public const int Cancelled = 130;

    public const string Text = """
        usage: lifelongmoe VERB [options] [key=value ...]

        Verbs:
          train                 train through the distributions in stream order, evaluating after each
                                phase; writes report.json, report.md, forgetting.png, TensorBoard events
          eval                  evaluate a checkpoint on every distribution's held-out documents
          generate              sample text from a checkpoint
          node                  join a running cluster as a worker that hosts experts
          status                show the state of a running training cluster
          pause | resume        pause a running training after its current step, or resume it
          shift DISTRIBUTION    end the current phase and continue on DISTRIBUTION
          checkpoint            write a checkpoint of a running training now
          bench                 measure tokens/s of the in-process trainer and of the actor pipeline
          corpora               check every corpus of the manifest and print its documents, bytes, tokens
          report A.json [B.json]  print the forgetting matrix of a run, or compare two runs

        Configuration (every verb but report):
          --preset NAME         tiny | default | large, or the path of a .hocon file (default: default)
          --config FILE         an extra HOCON file, applied over the preset
          --set KEY=VALUE       override one key; "lifelong-moe." may be left out of KEY
          KEY=VALUE             the same as --set KEY=VALUE, e.g. train.steps-per-phase=50
          --out DIR             output directory (lifelong-moe.out; default runs/<time>-<strategy>)
          --strategy NAME       lifelong | finetune (lifelong-moe.train.strategy)
          Layers, lowest first: hocon/base.hocon < preset < --config < overrides, in order given.

        Verb options:
          --checkpoint DIR      eval, generate: the checkpoint directory to load
          --prompt TEXT         generate: text to continue
          --max-tokens N        generate: tokens to sample
          --temperature X       generate: sampling temperature
          --seed-node ADDRESS   node and control verbs: a cluster member, akka.tcp://SYSTEM@HOST:PORT
          --port N              node: the port to listen on (default: any free one)
          --steps N             bench: steps to time

        General:
          -v, --verbose         show stack traces of errors
          -h, --help            show this text

        Exit codes: 0 done, 1 configuration, corpus, checkpoint or run error, 2 bad command line,
        130 cancelled with Ctrl+C.
        """;
}
