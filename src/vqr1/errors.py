"""Exceptions the CLI turns into one readable line (no traceback) and a non-zero exit."""


class Vqr1Error(Exception):
    """Base class: a problem the user can fix, with a message naming the file and the problem."""


class ConfigError(Vqr1Error):
    """params.yaml or an overlay is missing, malformed or invalid."""


class DataError(Vqr1Error):
    """A dataset, archive, label file or image is missing, corrupt or unsafe."""


class GateFailed(Vqr1Error):
    """The data gate found failed expectations; the report says which."""


class StorageError(Vqr1Error):
    """The S3 store or the DVC remote is unreachable or refused the request."""
