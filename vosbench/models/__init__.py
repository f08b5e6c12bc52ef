"""Models: backbones, memory, decoders and composed VOS models."""
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .decoders import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .memory import *  # noqa: F401,F403
from .tta import *  # noqa: F401,F403
from .vos import *  # noqa: F401,F403
