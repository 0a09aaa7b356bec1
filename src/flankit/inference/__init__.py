"""flankit.inference."""
