"""Where raw snapshots come from: the embedded sample, the live API, export files."""
