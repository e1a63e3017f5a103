"""The queue side: job functions for workers (campaign issue)."""
