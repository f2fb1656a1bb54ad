"""Head-to-head benchmarks: each module runs a competitor and chanye on the same data."""
