"""Writers and readers of result files (original ``vibe_output.pkl``, ...)."""
