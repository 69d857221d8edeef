"""Live configuration: switch_api writes SQL, then NATS; nodes watch NATS and apply at once.

- :class:`ConfigObject` — the typed objects, one key per object (``<kind>.<id>``) in the
  configuration bucket; large objects (compiled rate cards, datasets) go to the object store
  behind a :class:`BlobPointer`.
- :class:`ConfigPublisher` — publishes after the database commit, and reconciles the bucket
  with the database (``tandem config publish``, switch_api start-up).
- :class:`ConfigView` — a node's in-memory snapshot kept current by a watch; it serves the last
  configuration it saw while NATS is unreachable.
"""

from libs.liveconfig.errors import BlobIntegrityError, ConfigDecodeError, LiveConfigError
from libs.liveconfig.objects import BlobPointer, ConfigObject, config_key, split_key
from libs.liveconfig.publisher import ConfigPublisher, ReconcileReport
from libs.liveconfig.view import Change, ConfigView

__all__ = [
    "BlobIntegrityError",
    "BlobPointer",
    "Change",
    "ConfigDecodeError",
    "ConfigObject",
    "ConfigPublisher",
    "ConfigView",
    "LiveConfigError",
    "ReconcileReport",
    "config_key",
    "split_key",
]
