"""What the coach does with answers: probes, mock rounds, spaced repetition, plans, progress, compare, eval."""
