"""The worker process: the scheduler (when to wake) and the dispatcher (what is due)."""
