"""The script library: loading, validating and serving the scripts in ``scripts_data/``."""
