"""The raw Kaggle files: where they are and their fingerprints (``files``), their pandera
schemas (``schemas``), and the calibrated generator that stands in for them (``synthetic``).

The package imports nothing itself, so a command that only checks or fingerprints the files
does not pay for pandera or the generator.
"""
