"""tailtalk: a conversational recommender that values the long tail.

The pipeline reads top to bottom through the packages::

    dialogue -> agent (understand) -> retrieval (Chroma) -> ranking -> explain -> ui / eval

``tailtalk`` itself holds what every stage shares: the configuration, the catalogue
and dialogue-log formats, and dataset preparation.
"""

from tailtalk import privacy as _privacy

_privacy.apply_offline_defaults()

__version__ = "0.1.0"
