"""Settings, composed from one module per concern.

Each module reads the environment through `config.env.Env` (see `_env`), never
`os.environ` directly.
"""

# isort: off
from .base import *  # noqa: F403
from .database import *  # noqa: F403
from .tenancy import *  # noqa: F403
from .auth import *  # noqa: F403
from .api import *  # noqa: F403
from .queue import *  # noqa: F403
from .logs import *  # noqa: F403
from .product import *  # noqa: F403
# isort: on
