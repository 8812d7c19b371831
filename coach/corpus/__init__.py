"""The content: question banks, reference notes, grading dimensions, prompts, and the notes lint."""
