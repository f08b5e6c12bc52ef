"""Type aliases shared by the modules (as ``mmseg.utils.typing_utils``)."""
from typing import List, Union

#: An ``init_cfg``: one initialiser config, a list of them, or None.
OptMultiConfig = Union[dict, List[dict], None]

__all__ = ['OptMultiConfig']
