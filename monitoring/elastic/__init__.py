"""Elasticsearch and Kibana set-up for the shipped logs: index templates, retention, dashboard, local shipping."""
