"""Data: motion capture import (`vibe.data.mocap`) and training datasets."""
