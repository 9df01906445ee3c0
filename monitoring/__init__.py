"""Prediction monitoring: index template, Kibana saved objects, and the drift and quality report."""
