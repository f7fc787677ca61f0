"""User-facing errors: one line that says what was expected; the CLI prints it and exits non-zero."""


class VaelabError(Exception):
    """An error caused by the user's input (file, option, shape); shown as one line, without traceback."""


class DataError(VaelabError):
    """A data file or folder is missing, corrupt or not of the expected shape or value range."""


class ConfigError(VaelabError):
    """An option or configuration value that vaelab cannot honour."""


class TrainingDiverged(VaelabError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""
