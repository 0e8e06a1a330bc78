// Every spec runs torch work on the machine's few cores, several of them with timeouts that a neighbour spec
// hogging the CPU could trip; they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
