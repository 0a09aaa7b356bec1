"""flankit.serving."""
