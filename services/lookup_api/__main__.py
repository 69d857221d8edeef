"""``python -m services.lookup_api``: serve the lookup_api HTTP API."""

from libs.web.server import serve
from services.lookup_api.app import create_app
from services.lookup_api.config import LookupApiSettings

if __name__ == "__main__":
    serve("lookup_api", LookupApiSettings(), create_app)
