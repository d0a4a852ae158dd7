"""The benchmark users run: real-wrist tasks, protocols, the scorer and shipped baselines."""
