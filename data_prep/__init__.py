"""Build province-grouped analysis data sets: synthetic default data, typing, data dictionary."""
