"""router: proposes the handling unit for deputies' proposals received by a public security bureau."""

__version__ = "0.1.0"
__all__ = ["__version__"]
