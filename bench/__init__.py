"""`make bench`: measurements, not tests."""
