"""Network metrics of simulations (``spec/metrics.md``), raw outputs and their readers."""
