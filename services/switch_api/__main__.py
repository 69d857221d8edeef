"""``python -m services.switch_api``: serve the switch_api HTTP API."""

from libs.web.server import serve
from services.switch_api.app import create_app
from services.switch_api.config import SwitchApiSettings

if __name__ == "__main__":
    serve("switch_api", SwitchApiSettings(), create_app)
