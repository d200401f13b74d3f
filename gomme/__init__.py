"""gomme: GDPR/CNIL clean-up for CRMs. This package is the composition root."""

from importlib import metadata

__version__ = metadata.version("gomme")
