"""Empty on purpose: see ``main_settings`` (it saves every ``kedro`` command a slow search)."""
