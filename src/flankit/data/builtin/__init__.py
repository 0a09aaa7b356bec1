"""flankit.data.builtin."""
