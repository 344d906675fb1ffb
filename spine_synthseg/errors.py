"""The two error types every layer raises: bad input data and bad configuration values.

Both messages name the file or config key and say how to fix it; the CLIs print them as one line.
"""


class DataError(ValueError):
    """Bad input data (missing folder, unreadable file, size mismatch, unknown label value...)."""


class ConfigError(ValueError):
    """A configuration value out of its valid range; the message names the key and the range."""
