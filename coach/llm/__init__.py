"""The chat model: one client (client.py), structured output (structured.py), `coach doctor` (doctor.py)."""
