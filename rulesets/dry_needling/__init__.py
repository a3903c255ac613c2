"""Package marker only: lets pip install these rule files as data of the dry-needling plugin."""
