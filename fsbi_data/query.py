"""The ``.fsbi`` accessor on rule Datasets: the paper's criteria and range queries."""
