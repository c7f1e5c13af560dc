"""Constants, paths, reference figures and safe file writing shared by every stage."""
