"""coach: an interview answer coach for machine-learning interviews."""

__version__ = "0.1.0"
