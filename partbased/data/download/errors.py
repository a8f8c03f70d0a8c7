"""The two errors every loader raises about data it cannot use."""


class DownloadError(RuntimeError):
    """No source delivered a file with the expected checksum."""


class DataFormatError(ValueError):
    """A file's contents are not what the loader expects."""
