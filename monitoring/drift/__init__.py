"""The drift and quality report: recent prediction records against the bundle's reference."""
