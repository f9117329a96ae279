"""Empty on purpose. Kedro's settings loader (dynaconf) imports ``<env>_settings`` and
``global_<env>_settings`` beside ``settings.py`` (``main``: Kedro uses no dynaconf environments).
When such a module is missing, dynaconf searches the call stack, which resolves the path of every
module imported so far: about 0.1-0.2 s at the start of every ``kedro`` command.
"""
