"""Speak your answer: audio files and recordings (audio.py, record.py), transcription (transcribe.py)
and delivery measures of a transcript (delivery.py). No terminal here: errors are exceptions."""
