"""flankit.data."""
