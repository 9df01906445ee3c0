"""What both functions (the API and the log shipper) share about reading settings from the environment."""


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with."""
