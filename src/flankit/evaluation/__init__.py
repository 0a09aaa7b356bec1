"""flankit.evaluation."""
