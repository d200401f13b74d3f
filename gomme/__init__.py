"""gomme: GDPR/CNIL clean-up for CRMs. This package is the composition root."""

__version__ = "0.1.0"
