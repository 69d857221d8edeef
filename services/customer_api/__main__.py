"""``python -m services.customer_api``: serve the customer_api HTTP API."""

from libs.web.server import serve
from services.customer_api.app import create_app
from services.customer_api.config import CustomerApiSettings

if __name__ == "__main__":
    serve("customer_api", CustomerApiSettings(), create_app)
