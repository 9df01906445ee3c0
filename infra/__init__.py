"""Deployment and operations tooling for AWS (run from the repository root: `python -m infra.<tool>`)."""
