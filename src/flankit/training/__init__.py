"""flankit.training."""
