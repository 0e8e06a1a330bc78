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
          train             train on each distribution in stream order, evaluating every
                            one after each phase; writes report.json, report.md,
                            forgetting.png and TensorBoard events to the output directory
          eval              evaluate a checkpoint on every distribution's held-out text
                            (bits per byte); prints a table, --out FILE also writes JSON
          generate          continue a prompt with text sampled from a checkpoint
          node              join a running cluster as a worker that hosts experts
          status            show the state of a running training
          pause, resume     pause a running training after its current step; resume it
          shift             end the current phase after its step; go on to the next
                            distribution
          checkpoint        write a checkpoint of a running training now
          bench             time the in-process trainer and the actor pipeline (tokens/s)
          corpora           read every corpus of the manifest; print documents, bytes,
                            tokens
          report A [B]      print the forgetting matrix of a run (its report.json or
                            directory), or compare two runs

        Configuration (every verb but report):
          --preset NAME     tiny, default or large, or a .hocon file (default: default)
          --config FILE     an extra HOCON file, applied over the preset
          --set KEY=VALUE   override one key; "lifelong-moe." may be left out of KEY
          KEY=VALUE         the same as --set KEY=VALUE, e.g. train.steps-per-phase=50
          --out DIR         output directory (default: runs/<time>-<strategy>); for eval,
                            the JSON file of its results (eval.json if DIR exists)
          --strategy NAME   lifelong or finetune
          Layers, lowest first: hocon/base.hocon, the preset, --config, then the
          overrides in the order given.

        Verb options:
          --checkpoint DIR  eval, generate: the checkpoint directory to load, or a run's
                            output directory for its newest complete checkpoint
          --prompt TEXT     generate: the text to continue (default: empty, a new document)
          --max-tokens N    generate: the most tokens to sample (default 200); sampling
                            stops sooner where the model ends the document
          --temperature X   generate: the sampling temperature; 0 always takes the most
                            likely token (default 0.8)
          --top-k K         generate: sample only among the K most likely tokens; 0 = all
                            (default 0)
          --seed S          generate: the sampling seed (default: lifelong-moe.seed)
          --seed-node ADDR  node, status, pause, resume, shift, checkpoint: the training's
                            address, akka.tcp://lifelong-moe@HOST:PORT (default: read
                            from cluster.json in --out DIR, else in the newest runs/*)
          --port N          node: the port to listen on (default: any free port)
          --steps N         bench: how many steps to time (default 20)

        General:
          -v, --verbose     show the stack trace of an error
          -h, --help        show this text

        Exit codes: 0 done; 1 a configuration, corpus, checkpoint or run error;
        2 a bad command line; 130 stopped with Ctrl+C (train still reports the phases
        it finished).
        """;
}
