"""Developer tools outside the pipeline: synthetic-data calibration and the benchmark."""
