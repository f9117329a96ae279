"""Empty on purpose, and here because dynaconf looks for it here: ``startup.py`` says why (1.)."""
