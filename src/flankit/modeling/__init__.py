"""flankit.modeling."""
